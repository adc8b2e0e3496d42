"""A recipient's consent per scope and channel, and the revocations in effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aupguard.consent.model import ConsentEvent, ConsentKind, ConsentStatus
from aupguard.consent.status import revocations, scope_states

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def event(kind: ConsentKind, scope: str, hours: int, channel: str = "*") -> ConsentEvent:
    return ConsentEvent(
        tenant="acme",
        recipient="+14155550123",
        scope=scope,
        channel=channel,
        kind=kind,
        at=T0 + timedelta(hours=hours),
        wording="x",
    )


def test_a_wider_opt_out_is_listed_once_under_its_own_scope() -> None:
    events = [
        event(ConsentKind.OPT_IN, "sender:+12025550143", 0),
        event(ConsentKind.OPT_OUT, "*", 1),
    ]
    at = T0 + timedelta(hours=2)
    found = revocations(events, at, 10, frozenset())
    assert [(r.scope, r.received) for r in found] == [("*", T0 + timedelta(hours=1))]
    assert found[0].honour_by == T0 + timedelta(hours=1, days=14)  # 10 business days
    states = {(s.scope, s.channel): s.view.status for s in scope_states(events, at)}
    assert states == {
        ("*", "*"): ConsentStatus.OPTED_OUT,
        ("sender:+12025550143", "*"): ConsentStatus.OPTED_OUT,  # the wider opt-out covers it
    }


def test_the_revocation_counts_from_the_first_opt_out_after_the_last_opt_in() -> None:
    events = [
        event(ConsentKind.OPT_OUT, "brand:acme", 0),
        event(ConsentKind.OPT_IN, "brand:acme", 1),
        event(ConsentKind.OPT_OUT, "brand:acme", 2),
        event(ConsentKind.OPT_OUT, "brand:acme", 3),
    ]
    found = revocations(events, T0 + timedelta(hours=4), 10, frozenset())
    assert [r.received for r in found] == [T0 + timedelta(hours=2)]
    assert revocations(events, T0 + timedelta(hours=1, minutes=30), 10, frozenset()) == []
