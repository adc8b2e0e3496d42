"""P17 (templated bulk on person-to-person senders) and P12 (one-time-code floods)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aupguard import Engine
from aupguard.consent import ConsentSignals, looks_like_code
from aupguard.engine.decision import Verdict
from aupguard.engine.events import InboundMessage, OutboundMessage
from aupguard.service.screening import Screener
from aupguard.traffic.signals import MemorySignals, RedisSignals
from tests.services import FakeClock, redis_prefix

NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)


def p2p(to: str, body: str) -> OutboundMessage:
    return OutboundMessage.model_validate(
        {"from": "+12025550143", "to": to, "body": body, "sender_type": "p2p", "account": "a1"}
    )


def code(service: str, to: str = "+12025550177", account: str = "a1") -> InboundMessage:
    return InboundMessage.model_validate(
        {
            "from": service,
            "to": to,
            "body": f"Your verification code is 48{len(service)}913. Do not share it.",
            "account": account,
        }
    )


def test_templated_bulk_on_a_p2p_sender_is_held_personal_texts_are_not(engine: Engine) -> None:
    screener = Screener(engine, sources=[ConsentSignals(MemorySignals(FakeClock()))])
    template = "Hi {}, our new menu is out! Order at acme.example before Friday"
    decisions = [
        screener.screen(p2p(f"+1415555{i:04d}", template.format(name)), NOW)
        for i, name in enumerate(["Ann", "Bob", "Cy", "Di", "Ed"] * 8)
    ]
    assert decisions[0].verdict is Verdict.ALLOW
    assert decisions[-1].verdict is Verdict.HOLD
    assert any(h.rule == "p2p.templated_bulk" for h in decisions[-1].hits)
    chat = [
        screener.screen(p2p("+14155559999", f"see you at {h} tonight? bring the {h} snacks"), NOW)
        for h in range(30)
    ]
    assert all(d.verdict is Verdict.ALLOW for d in chat)


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_codes_from_many_services_to_one_number_are_held(engine: Engine, backend: str) -> None:
    with redis_prefix() as (client, prefix):
        store = (
            MemorySignals(FakeClock())
            if backend == "memory"
            else RedisSignals(client, prefix=prefix)
        )
        screener = Screener(engine, sources=[ConsentSignals(store)])
        services = ["22395", "32665", "+18005550100", "GOOGLE", "72975", "55555", "40404"]
        decisions = [
            screener.screen(code(s, account=f"acct{i % 2}"), NOW) for i, s in enumerate(services)
        ]
        assert [d.verdict for d in decisions[:4]] == [Verdict.ALLOW] * 4
        assert decisions[-1].verdict is Verdict.HOLD
        assert any(h.rule == "verification.code_flood" for h in decisions[-1].hits)
        # one service sending many codes to one number is ordinary two-factor login
        same = [screener.screen(code("22395", to="+12025550188"), NOW) for _ in range(10)]
        assert all(d.verdict is Verdict.ALLOW for d in same)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your Acme verification code is 482913", True),
        ("G-482913 is your Google verification code.", True),
        ("Your order 482913 has shipped", False),
        ("What's the code for the door?", False),
    ],
)
def test_looks_like_code(text: str, expected: bool) -> None:
    assert looks_like_code(text) is expected


def test_florida_caps_same_subject_solicitations_at_three_per_day(engine: Engine) -> None:
    from aupguard.consent import ConsentSource, MemoryConsentStore
    from aupguard.consent.model import ConsentEvent, ConsentKind

    clock = FakeClock()
    signals = ConsentSignals(MemorySignals(clock))
    ledger = MemoryConsentStore()
    for person in ("+13055550123", "+14155550123"):
        ledger.append(
            [
                ConsentEvent(
                    tenant="a1",
                    recipient=person,
                    kind=ConsentKind.OPT_IN,
                    at=NOW - timedelta(days=1),
                )
            ]
        )
    screener = Screener(engine, sources=[ConsentSource(ledger), signals], after=[signals])

    def offer(to: str, sender: str, campaign: str = "spring") -> OutboundMessage:
        return OutboundMessage.model_validate(
            {
                "from": sender,
                "to": to,
                "body": "Acme Shoes: 20% off today. Reply STOP to opt out",
                "category": "marketing",
                "campaign": campaign,
                "account": "a1",
            }
        )

    daytime = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)  # 12:00 in Miami
    senders = ["+12025550143", "+12025550144", "+12025550145", "+12025550146"]
    florida = [screener.screen(offer("+13055550123", s), daytime) for s in senders]
    assert [d.verdict for d in florida] == [Verdict.ALLOW] * 3 + [Verdict.THROTTLE]
    assert "consent.daily_cap" in [h.rule for h in florida[-1].hits]
    # a throttled message is not counted, another subject has its own count,
    # and a state without a cap has none
    assert screener.screen(offer("+13055550123", senders[0], "summer"), daytime).verdict is (
        Verdict.ALLOW
    )
    california = [screener.screen(offer("+14155550123", s), daytime) for s in senders * 2]
    assert all(d.verdict is Verdict.ALLOW for d in california)
    clock.advance(2 * 86400)
    assert screener.screen(offer("+13055550123", senders[0]), daytime).verdict is Verdict.ALLOW
