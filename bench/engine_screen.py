"""In-process screening speed of the default pack, against a bare RE2 scan.

Baseline, measured in the same process on the same messages: lower-casing the
message and scanning it once with an RE2 set of every lexicon pattern of the
default pack (no normalisation, no rules, no decision), after a warm-up pass.
The ratio says what the engine costs on top of the one thing it cannot avoid.
`bare_hyperscan` is the same scan by the pack's Hyperscan database.

Every message goes to its own recipient, drawn from a mix of countries. The
engines scan with Hyperscan (the bench waits until its database is ready, as a
server runs after its first start). `engine` is `Engine.screen` with the
default pack (verdict, rules, clauses, scores; evidence is located lazily) on
the corpus after a warm-up pass, so numbers come from the parse cache as they
do for returning recipients; `engine_new_numbers` empties that cache before
each message (a first message to a recipient: every number parsed anew);
`engine_novel_texts` screens a text never seen before at every call (corpus
words drawn at random, `bench.common.novel_bodies`), and
`engine_re2_novel_texts` does the same with the lexicons left on RE2, whose
automaton is built lazily per new text (`aupguard.engine.hsscan` says why that
matters); `engine_with_evidence` also reads every hit's evidence, as a recorder
of decisions does; `engine_without_classifier` is the default pack with the two
spam-classifier rules disabled (measured in bench/content_engine.py).

    python -m bench.engine_screen            # or: make bench
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from aupguard import Engine, OutboundMessage
from aupguard.engine.re2util import compile_set
from aupguard.identity.numbering import number_and_region, region_of
from bench.common import (
    Benched,
    cpu_rates,
    interleaved,
    novel_bodies,
    recipients,
    report,
    sms_bodies,
    summary,
)

NO_CLASSIFIER = """\
pack: bench-no-classifier
version: "1"
extends: default
disable: [spam.classifier, spam.classifier_out_of_domain]
"""


def ready(engine: Engine) -> Engine:
    """`engine` once its lexicon set scans with Hyperscan (compiled in the background,
    or read from the cache), as a server runs after its first start."""
    engine.pack.lexicons.wait_for_hyperscan(300)
    return engine


def main() -> None:
    engine = ready(Engine.from_pack())
    os.environ["AUPGUARD_HYPERSCAN"] = "off"
    re2_engine = Engine.from_pack()
    del os.environ["AUPGUARD_HYPERSCAN"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pack.yaml"
        path.write_text(NO_CLASSIFIER, "utf-8")
        rules_only = ready(Engine.from_pack(path))
    bodies = sms_bodies()
    events = [
        OutboundMessage.model_validate({"from": "+12025550143", "to": to, "body": b})
        for b, to in zip(bodies, recipients(len(bodies)), strict=True)
    ]
    lexicons = engine.pack.lexicons
    re2_set = compile_set(lexicons.patterns)

    def bare(body: str) -> object:
        return re2_set.Match(body.lower())

    def bare_hyperscan(body: str) -> object:
        return lexicons.match(body.lower())

    def with_evidence(event: OutboundMessage) -> object:
        decision = engine.screen(event)
        return [hit.evidence for hit in (*decision.hits, *decision.shadow)]

    def new_numbers(event: OutboundMessage) -> object:
        number_and_region.cache_clear()
        region_of.cache_clear()
        return engine.screen(event)

    # texts no scanner has met: each call takes the next one (warm-up, 5 timed passes
    # and 3 CPU-time passes each use a fresh batch)
    n = 2000
    novel = [
        OutboundMessage.model_validate({"from": "+12025550143", "to": to, "body": b})
        for b, to in zip(novel_bodies(2 * 9 * n), recipients(2 * 9 * n, seed=8), strict=True)
    ]
    fresh_hs, fresh_re2 = iter(novel[: 9 * n]), iter(novel[9 * n :])

    def novel_hyperscan(_: int) -> object:
        return engine.screen(next(fresh_hs))

    def novel_re2(_: int) -> object:
        return re2_engine.screen(next(fresh_re2))

    fns: Benched = {
        "bare": (bare, bodies),
        "bare_hyperscan": (bare_hyperscan, bodies),
        "engine": (engine.screen, events),
        "engine_new_numbers": (new_numbers, events),
        "engine_novel_texts": (novel_hyperscan, range(n)),
        "engine_re2_novel_texts": (novel_re2, range(n)),
        "engine_with_evidence": (with_evidence, events),
        "engine_without_classifier": (rules_only.screen, events),
    }
    samples = interleaved(fns)
    cpu = cpu_rates(fns)
    s = {name: summary(values) for name, values in samples.items()}
    baseline, full = s["bare"], s["engine"]
    fired = sum(1 for e in events if engine.screen(e).hits)
    report(
        "engine_screen",
        {
            "messages": len(events),
            "messages_with_a_hit": fired,
            "lexicon_patterns": len(lexicons),
            "rules": len(engine.pack.rules),
            "lexicon_engine": lexicons.engine,
            **{("bare_re2_scan" if k == "bare" else k): v for k, v in s.items()},
            "ratio_mean": full["mean_us"] / baseline["mean_us"],
            "ratio_p50": full["p50_us"] / baseline["p50_us"],
            **{
                f"ratio_p50_{k.removeprefix('engine_')}": v["p50_us"] / baseline["p50_us"]
                for k, v in s.items()
                if k.startswith("engine_")
            },
            "per_cpu_second": cpu,
            "ratio_cpu": cpu["bare"] / cpu["engine"],
        },
    )


if __name__ == "__main__":
    main()
