"""Full engine with every content detector on typical SMS, against the bare RE2 scan.

Typical SMS here: bodies of at most 160 characters from the SMS Spam Collection
(both splits), 30% of them carrying a link (a real-looking one appended to a
shorter body: brand domains, shorteners, lookalikes, unknown shops), as the
issue asks. The default pack runs whole: classifier, link reputation,
lookalikes, shorteners, data-loss, lures, media (no attachments here).
Baseline, in the same process on the same bodies: lower-casing the body and one
match of the pack's RE2 set (as bench/engine_screen.py).

    python -m bench.content_engine
"""

from __future__ import annotations

import random

from aupguard import Engine, OutboundMessage
from bench.common import Benched, cpu_rates, interleaved, report, sms_bodies, summary

LINKS = [
    "https://www.fedex.com/track?id=7712",
    "bit.ly/3xYzAb",
    "https://www.youtube.com/watch?v=dQw4w9",
    "www.example-bakery.co.uk/menu",
    "https://amzn.to/3kT9",
    "https://calendar.google.com/event?id=42",
    "https://www.bbc.co.uk/news/uk-1234",
    "https://paypa1-secure-login.com/x",
]
"""Links as ordinary traffic carries them: brands' own, shorteners, small shops; one in
eight a lookalike."""


def corpus(seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    short = [b for b in sms_bodies() if len(b) <= 160]
    out = []
    for i, body in enumerate(short):
        if i % 10 < 3:
            link = rng.choice(LINKS)
            out.append(body[: 159 - len(link)].rstrip() + " " + link)
        else:
            out.append(body)
    return out


def main() -> None:
    engine = Engine.from_pack()
    bodies = corpus()
    events = [
        OutboundMessage.model_validate({"from": "+12025550143", "to": "+14155550123", "body": b})
        for b in bodies
    ]
    lexicons = engine.pack.lexicons

    def bare(body: str) -> object:
        return lexicons.match(body.lower())

    fns: Benched = {"bare": (bare, bodies), "engine": (engine.screen, events)}
    samples = interleaved(fns, passes=3)
    cpu = cpu_rates(fns)
    baseline, full = summary(samples["bare"]), summary(samples["engine"])
    fired = sum(1 for e in events if engine.screen(e).hits)
    report(
        "content_engine",
        {
            "messages": len(events),
            "max_length": max(len(b) for b in bodies),
            "share_with_link": round(
                sum(1 for i in range(len(bodies)) if i % 10 < 3) / len(bodies), 3
            ),
            "messages_with_a_hit": fired,
            "rules": len(engine.pack.rules),
            "detectors": len(engine.pack.detectors),
            "bare_re2_scan": baseline,
            "engine": full,
            "ratio_mean": full["mean_us"] / baseline["mean_us"],
            "ratio_p50": full["p50_us"] / baseline["p50_us"],
            "engine_messages_per_second_wall": full["per_second"],
            "engine_messages_per_cpu_second": cpu["engine"],
            "bare_scans_per_cpu_second": cpu["bare"],
            "ratio_cpu": cpu["bare"] / cpu["engine"],
            "target_messages_per_second": 10_000,
        },
    )


if __name__ == "__main__":
    main()
