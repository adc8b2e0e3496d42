"""In-process screening speed of the default pack, against a bare RE2 scan.

Baseline, measured in the same process on the same messages: lower-casing the
message and scanning it once with the very RE2 set that holds every lexicon of
the default pack (no normalisation, no rules, no decision). The ratio says
what the engine costs on top of the one thing it cannot avoid.

`engine` is `Engine.screen` (verdict, rules, clauses, scores; evidence is
located lazily); `engine_with_evidence` also reads every hit's evidence, as a
recorder of decisions does.

    python bench/engine_screen.py            # or: make bench
"""

from __future__ import annotations

from aupguard import Engine, OutboundMessage
from bench.common import interleaved, report, sms_bodies, summary


def main() -> None:
    engine = Engine.from_pack()
    bodies = sms_bodies()
    events = [
        OutboundMessage.model_validate({"from": "+12025550143", "to": "+14155550123", "body": b})
        for b in bodies
    ]
    lexicons = engine.pack.lexicons

    def bare(body: str) -> object:
        return lexicons.match(body.lower())

    def with_evidence(event: OutboundMessage) -> object:
        decision = engine.screen(event)
        return [hit.evidence for hit in (*decision.hits, *decision.shadow)]

    samples = interleaved(
        {
            "bare": (bare, bodies),
            "engine": (engine.screen, events),
            "engine_with_evidence": (with_evidence, events),
        }
    )
    baseline, full = summary(samples["bare"]), summary(samples["engine"])
    evidence = summary(samples["engine_with_evidence"])
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
            "engine_with_evidence": evidence,
            "ratio_mean": full["mean_us"] / baseline["mean_us"],
            "ratio_p50": full["p50_us"] / baseline["p50_us"],
            "ratio_mean_with_evidence": evidence["mean_us"] / baseline["mean_us"],
        },
    )


if __name__ == "__main__":
    main()
