"""In-process screening speed of the default pack, against a bare RE2 scan.

Baseline, measured in the same process on the same messages: lower-casing the
message and scanning it once with the very RE2 set that holds every lexicon of
the default pack (no normalisation, no rules, no decision). The ratio says
what the engine costs on top of the one thing it cannot avoid.

Every message goes to its own recipient, drawn from a mix of countries.
`engine` is `Engine.screen` with the default pack (verdict, rules, clauses,
scores; evidence is located lazily), after a warm-up pass, so numbers come from
the parse cache as they do for returning recipients; `engine_new_numbers` empties
that cache before each message (a first message to a recipient: every number is
parsed anew); `engine_with_evidence` also reads every
hit's evidence, as a recorder of decisions does; `engine_without_classifier`
is the default pack with the two spam-classifier rules disabled (the rule
engine alone: the classifier is a linear model scored per message, measured
in bench/content_engine.py).

    python bench/engine_screen.py            # or: make bench
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from aupguard import Engine, OutboundMessage
from aupguard.identity.numbering import number_and_region, region_of
from bench.common import Benched, cpu_rates, interleaved, recipients, report, sms_bodies, summary

NO_CLASSIFIER = """\
pack: bench-no-classifier
version: "1"
extends: default
disable: [spam.classifier, spam.classifier_out_of_domain]
"""


def main() -> None:
    engine = Engine.from_pack()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pack.yaml"
        path.write_text(NO_CLASSIFIER, "utf-8")
        rules_only = Engine.from_pack(path)
    bodies = sms_bodies()
    events = [
        OutboundMessage.model_validate({"from": "+12025550143", "to": to, "body": b})
        for b, to in zip(bodies, recipients(len(bodies)), strict=True)
    ]
    lexicons = engine.pack.lexicons

    def bare(body: str) -> object:
        return lexicons.match(body.lower())

    def with_evidence(event: OutboundMessage) -> object:
        decision = engine.screen(event)
        return [hit.evidence for hit in (*decision.hits, *decision.shadow)]

    def new_numbers(event: OutboundMessage) -> object:
        number_and_region.cache_clear()
        region_of.cache_clear()
        return engine.screen(event)

    fns: Benched = {
        "bare": (bare, bodies),
        "engine": (engine.screen, events),
        "engine_new_numbers": (new_numbers, events),
        "engine_with_evidence": (with_evidence, events),
        "engine_without_classifier": (rules_only.screen, events),
    }
    samples = interleaved(fns)
    cpu = cpu_rates(fns)
    baseline, full = summary(samples["bare"]), summary(samples["engine"])
    evidence = summary(samples["engine_with_evidence"])
    new = summary(samples["engine_new_numbers"])
    no_classifier = summary(samples["engine_without_classifier"])
    fired = sum(1 for e in events if engine.screen(e).hits)
    report(
        "engine_screen",
        {
            "messages": len(events),
            "messages_with_a_hit": fired,
            "lexicon_patterns": len(lexicons),
            "rules": len(engine.pack.rules),
            "bare_re2_scan": baseline,
            "engine": full,
            "engine_new_numbers": new,
            "ratio_p50_new_numbers": new["p50_us"] / baseline["p50_us"],
            "engine_with_evidence": evidence,
            "ratio_mean": full["mean_us"] / baseline["mean_us"],
            "ratio_p50": full["p50_us"] / baseline["p50_us"],
            "ratio_mean_with_evidence": evidence["mean_us"] / baseline["mean_us"],
            "engine_without_classifier": no_classifier,
            "ratio_p50_without_classifier": no_classifier["p50_us"] / baseline["p50_us"],
            "ratio_mean_without_classifier": no_classifier["mean_us"] / baseline["mean_us"],
            "per_cpu_second": cpu,
            "ratio_cpu": cpu["bare"] / cpu["engine"],
        },
    )


if __name__ == "__main__":
    main()
