"""Consent events and the fold that turns them into state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from aupguard.consent.model import ConsentEvent, ConsentKind, ConsentStatus, fold, scopes_for

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def ev(kind: ConsentKind, at: datetime, **fields: object) -> ConsentEvent:
    data: dict[str, object] = {"tenant": "t", "recipient": "+14155550123", "kind": kind, "at": at}
    data.update(fields)
    return ConsentEvent.model_validate(data)


@pytest.mark.parametrize("scope", ["nonsense", "brand:", "shop:acme"])
def test_a_bad_scope_is_refused(scope: str) -> None:
    with pytest.raises(ValidationError, match="scope"):
        ev(ConsentKind.OPT_IN, T0, scope=scope)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        ev(ConsentKind.OPT_IN, datetime(2026, 3, 1))


def test_opt_in_expires_and_expiry_event_ends_it() -> None:
    events = [ev(ConsentKind.OPT_IN, T0, expires=T0 + timedelta(days=10))]
    assert fold(events, T0 + timedelta(days=9)).status is ConsentStatus.OPTED_IN
    assert fold(events, T0 + timedelta(days=10)).status is ConsentStatus.UNKNOWN
    ended = [ev(ConsentKind.OPT_IN, T0), ev(ConsentKind.EXPIRY, T0 + timedelta(days=1))]
    assert fold(ended, T0 + timedelta(days=2)).status is ConsentStatus.UNKNOWN


def test_an_opt_out_of_the_brand_covers_its_senders_and_other_brands_are_apart() -> None:
    events = [
        ev(ConsentKind.OPT_IN, T0, scope="brand:acme"),
        ev(ConsentKind.OPT_IN, T0, scope="brand:other"),
        ev(ConsentKind.OPT_OUT, T0 + timedelta(hours=1), scope="brand:acme"),
    ]
    later = T0 + timedelta(hours=2)
    acme = scopes_for("+12025550143", "acme", "C1")
    other = scopes_for("+12025550199", "other", None)
    assert fold(events, later, acme, "sms").status is ConsentStatus.OPTED_OUT
    assert fold(events, later, other, "sms").status is ConsentStatus.OPTED_IN


def test_a_channel_opt_out_leaves_other_channels_and_star_covers_all() -> None:
    events = [
        ev(ConsentKind.OPT_IN, T0),
        ev(ConsentKind.OPT_OUT, T0 + timedelta(hours=1), channel="whatsapp"),
    ]
    later = T0 + timedelta(hours=2)
    assert fold(events, later, None, "whatsapp").status is ConsentStatus.OPTED_OUT
    assert fold(events, later, None, "sms").status is ConsentStatus.OPTED_IN
    events.append(ev(ConsentKind.OPT_OUT, T0 + timedelta(hours=1)))
    assert fold(events, later, None, "sms").status is ConsentStatus.OPTED_OUT
