"""Inbound replies update the ledger; the Screener then blocks, holds or lets through."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aupguard import Engine
from aupguard.consent import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    ConsentSource,
    ConsentStatus,
    IntentKind,
    KeywordIndex,
    MemoryConsentStore,
    MemoryDncStore,
    business_days_after,
    record_inbound,
)
from aupguard.engine.decision import Verdict
from aupguard.engine.events import InboundMessage, OutboundMessage
from aupguard.service.screening import DEPENDENCY_RULE, Screener

NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)  # Tuesday, 11:00 in San Francisco
PERSON = "+14155550123"
OURS = "+12025550143"


def inbound(body: str) -> InboundMessage:
    return InboundMessage.model_validate(
        {"from": PERSON, "to": OURS, "body": body, "account": "acme", "id": "SM1"}
    )


def marketing(at: datetime = NOW, to: str = PERSON) -> OutboundMessage:
    return OutboundMessage.model_validate(
        {
            "from": OURS,
            "to": to,
            "body": "Acme Shoes: 20% off today. Reply STOP to opt out",
            "category": "marketing",
            "account": "acme",
            "at": at,
        }
    )


def opted_in(ledger: MemoryConsentStore, to: str = PERSON) -> None:
    ledger.append(
        [
            ConsentEvent(
                tenant="acme",
                recipient=to,
                kind=ConsentKind.OPT_IN,
                at=NOW - timedelta(days=30),
                method=ConsentMethod.WEB_FORM,
                source="form:signup",
                wording="Text me offers from Acme Shoes",
            )
        ]
    )


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        " stop. ",
        "Stop please",
        "unsubscribe",
        "ARRET",
        "revoke",
        "opt out",
        "please don't text me anymore",
    ],
)
def test_opt_out_gives_exactly_one_confirmation_and_blocks_marketing(
    engine: Engine, keywords: KeywordIndex, body: str
) -> None:
    ledger = MemoryConsentStore()
    opted_in(ledger)
    screener = Screener(engine, sources=[ConsentSource(ledger)])
    assert screener.screen(marketing()).verdict is Verdict.ALLOW

    first = record_inbound(ledger, keywords, inbound(body), NOW)
    again = record_inbound(ledger, keywords, inbound(body), NOW + timedelta(minutes=1))

    assert first.intent.kind is IntentKind.OPT_OUT
    assert first.before.status is ConsentStatus.OPTED_IN
    assert first.after.status is ConsentStatus.OPTED_OUT
    assert first.reply is not None and "unsubscribed" in first.reply
    assert "%" not in first.reply and "off" not in first.reply.split()  # no marketing content
    assert again.reply is None  # one confirmation, not one per STOP
    assert again.recorded is not None  # but the repeated STOP is kept as evidence
    assert len(ledger.history("acme", PERSON)) == 3

    decision = screener.screen(marketing(NOW + timedelta(minutes=2)))
    assert decision.verdict is Verdict.BLOCK
    hit = next(h for h in decision.hits if h.rule == "consent.opted_out")
    assert "P28" in hit.clauses
    assert hit.code == 21610


def test_cant_stop_laughing_changes_nothing(engine: Engine, keywords: KeywordIndex) -> None:
    ledger = MemoryConsentStore()
    opted_in(ledger)
    outcome = record_inbound(ledger, keywords, inbound("I can't stop laughing"), NOW)
    assert outcome.intent.kind is IntentKind.NONE
    assert outcome.recorded is None and outcome.reply is None
    screener = Screener(engine, sources=[ConsentSource(ledger)])
    assert screener.screen(marketing()).verdict is Verdict.ALLOW


def test_start_re_opts_in_and_help_always_answers(engine: Engine, keywords: KeywordIndex) -> None:
    ledger = MemoryConsentStore()
    opted_in(ledger)
    record_inbound(ledger, keywords, inbound("STOP"), NOW)
    back = record_inbound(ledger, keywords, inbound("START"), NOW + timedelta(hours=1))
    assert back.after.status is ConsentStatus.OPTED_IN
    assert back.reply is not None and "subscribed" in back.reply
    helped = [record_inbound(ledger, keywords, inbound("HELP"), NOW).reply for _ in range(2)]
    assert all(r and "help" in r.lower() for r in helped)
    screener = Screener(engine, sources=[ConsentSource(ledger)])
    assert screener.screen(marketing(NOW + timedelta(hours=2))).verdict is Verdict.ALLOW
    # ...and the ledger still answers for the past: blocked while opted out
    past = screener.screen(marketing(NOW + timedelta(minutes=30)))
    assert past.verdict is Verdict.BLOCK


def test_marketing_without_opt_in_is_held(engine: Engine) -> None:
    screener = Screener(engine, sources=[ConsentSource(MemoryConsentStore())])
    decision = screener.screen(marketing())
    assert decision.verdict is Verdict.HOLD
    assert "consent.marketing_without_opt_in" in [h.rule for h in decision.hits]


def test_dnc_listed_number_blocks_marketing(engine: Engine) -> None:
    ledger, dnc = MemoryConsentStore(), MemoryDncStore()
    opted_in(ledger)
    dnc.add("acme", [PERSON], "dnc.csv", NOW)
    decision = Screener(engine, sources=[ConsentSource(ledger, dnc)]).screen(marketing())
    assert decision.verdict is Verdict.BLOCK
    assert "consent.do_not_call" in [h.rule for h in decision.hits]


def test_ledger_down_fails_closed(engine: Engine) -> None:
    class Broken(MemoryConsentStore):
        def history(
            self, tenant: str, recipient: str, until: datetime | None = None
        ) -> list[ConsentEvent]:
            raise ConnectionError("database is gone")

    decision = Screener(engine, sources=[ConsentSource(Broken())]).screen(marketing())
    assert decision.verdict is Verdict.BLOCK
    hit = next(h for h in decision.hits if h.rule == DEPENDENCY_RULE)
    assert "P28" in hit.clauses


def test_quiet_hours_florida_and_texas_sunday(engine: Engine) -> None:
    ledger = MemoryConsentStore()
    florida, texas = "+13055550123", "+12145550123"
    opted_in(ledger, florida)
    opted_in(ledger, texas)
    screener = Screener(engine, sources=[ConsentSource(ledger)])
    # 20:30 in Miami (EDT, UTC-4) on Tuesday 2026-06-02
    fl = screener.screen(marketing(datetime(2026, 6, 3, 0, 30, tzinfo=UTC), florida))
    assert fl.verdict is Verdict.THROTTLE
    assert fl.retry_after == 11.5 * 3600  # 08:00 next day
    # 20:30 in Dallas (CDT, UTC-5) on Sunday 2026-06-07: Texas allows until 21:00
    tx = screener.screen(marketing(datetime(2026, 6, 8, 1, 30, tzinfo=UTC), texas))
    assert tx.verdict is Verdict.ALLOW
    late = screener.screen(marketing(datetime(2026, 6, 8, 2, 0, tzinfo=UTC), texas))
    assert late.verdict is Verdict.THROTTLE
    assert late.retry_after == 12 * 3600  # Monday 09:00 in Dallas


def test_honour_by_is_ten_business_days_later(keywords: KeywordIndex) -> None:
    outcome = record_inbound(MemoryConsentStore(), keywords, inbound("STOP"), NOW)
    assert outcome.honour_by == business_days_after(NOW, 10, frozenset())
    assert outcome.honour_by == NOW + timedelta(days=14)
    assert outcome.reply_by == NOW + timedelta(minutes=5)
    holiday = business_days_after(NOW, 10, frozenset({date(2026, 6, 3)}))
    assert holiday == NOW + timedelta(days=15)


def test_an_age_verified_opt_in_lets_age_gated_marketing_through(engine: Engine) -> None:
    ledger = MemoryConsentStore()
    screener = Screener(engine, sources=[ConsentSource(ledger)])

    def happy_hour() -> OutboundMessage:
        return OutboundMessage.model_validate(
            {
                "from": OURS,
                "to": PERSON,
                "body": "Acme Bar: happy hour! 2-for-1 cocktails tonight. Reply STOP to opt out",
                "category": "marketing",
                "account": "acme",
                "at": NOW,
            }
        )

    opted_in(ledger)
    held = screener.screen(happy_hour())
    assert "content.shaft.alcohol" in [h.rule for h in held.hits]
    ledger.append(
        [
            ConsentEvent(
                tenant="acme",
                recipient=PERSON,
                kind=ConsentKind.OPT_IN,
                at=NOW - timedelta(days=1),
                method=ConsentMethod.WEB_FORM,
                source="form:age-gate",
                wording="I confirm I am 21 or older. Text me Acme Bar offers.",
                age_verified=True,
            )
        ]
    )
    passed = screener.screen(happy_hour())
    assert "content.shaft.alcohol" not in [h.rule for h in passed.hits]
    assert passed.verdict is Verdict.ALLOW


def test_an_opt_out_to_a_number_holds_whatever_formatting_the_sender_uses(
    engine: Engine, keywords: KeywordIndex
) -> None:
    ledger = MemoryConsentStore()
    record_inbound(ledger, keywords, inbound("STOP"), NOW)  # no brand: scope sender:+1202...
    screener = Screener(engine, sources=[ConsentSource(ledger)])
    for sender in (OURS, "tel:+1 (202) 555-0143", "+1 202-555-0143"):
        message = OutboundMessage.model_validate(
            {"from": sender, "to": "(415) 555-0123", "body": "hi", "account": "acme", "at": NOW}
        )
        assert screener.screen(message).verdict is Verdict.BLOCK, sender
    other = OutboundMessage.model_validate(
        {"from": "+12025550199", "to": PERSON, "body": "hi", "account": "acme", "at": NOW}
    )
    assert screener.screen(other).verdict is Verdict.ALLOW
