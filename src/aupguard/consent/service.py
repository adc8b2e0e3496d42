"""Consent in the service layer: inbound replies (STOP/START/HELP) and recording
consent given elsewhere.

`record_inbound` classifies a reply, appends the ledger event it implies and
returns the one auto-reply to send, if any:

- an opt-out is recorded every time it arrives (it is evidence), but the
  confirmation goes out only when the recipient was not already opted out for
  that sender/brand: the FCC allows one confirmation text, and a second STOP
  from someone already opted out must not be answered with another message;
- an opt-in is recorded, and confirmed when it changes the state;
- HELP is answered every time and changes nothing.

The opt-out takes effect at once (the ledger is read at every send); the
outer limit the FCC allows (10 business days) is reported as `honour_by`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aupguard.consent.keywords import ConsentKeywords, Intent, IntentKind, KeywordIndex, classify
from aupguard.consent.model import (
    ALL,
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    ConsentView,
    fold,
    scopes_for,
)
from aupguard.consent.source import recipient_key
from aupguard.consent.store import ConsentStore
from aupguard.engine.events import InboundMessage

__all__ = ["InboundOutcome", "business_days_after", "record_inbound"]


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    intent: Intent
    before: ConsentView
    after: ConsentView
    recorded: ConsentEvent | None
    reply: str | None
    honour_by: datetime | None
    """Latest moment the revocation must be honoured by (opt-outs only)."""
    reply_by: datetime | None
    """Latest moment the confirmation is presumed compliant (5 minutes)."""


def business_days_after(start: datetime, days: int, holidays: frozenset[date]) -> datetime:
    """`start` moved `days` business days on (weekends and `holidays` skipped)."""
    moment = start
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5 and moment.date() not in holidays:
            left -= 1
    return moment


def record_inbound(
    ledger: ConsentStore,
    keywords: KeywordIndex,
    event: InboundMessage,
    now: datetime,
    *,
    brand: str | None = None,
    holidays: frozenset[date] = frozenset(),
) -> InboundOutcome:
    """Act on a reply from `event.sender` to the tenant's number `event.to`."""
    intent = classify(event.body, keywords)
    recipient = recipient_key(event.sender)
    number = recipient_key(event.to)
    scopes = scopes_for(number, brand, None)
    scope = f"brand:{brand}" if brand else f"sender:{number}"
    spec = keywords.spec
    history = ledger.history(event.account, recipient)
    before = fold(history, now, scopes, event.channel.value)
    if intent.kind in (IntentKind.NONE, IntentKind.HELP):
        answer = _fill(spec.replies.help, brand or number) if intent.acted else None
        return InboundOutcome(
            intent, before, before, None, answer, None, _reply_by(answer, now, spec)
        )
    opt_out = intent.kind is IntentKind.OPT_OUT
    channel = ALL if opt_out and spec.opt_out_all_channels else event.channel.value
    written = ConsentEvent(
        tenant=event.account,
        scope=scope,
        recipient=recipient,
        channel=channel,
        kind=ConsentKind.OPT_OUT if opt_out else ConsentKind.OPT_IN,
        at=now,
        method=ConsentMethod.KEYWORD,
        source=event.id or f"inbound to {number}",
        wording=event.body[:2000],
    )
    ledger.append([written])
    after = fold([*history, written], now, scopes, event.channel.value)
    changed = after.status is not before.status
    reply: str | None = None
    if changed:
        template = spec.replies.opt_out if opt_out else spec.replies.opt_in
        reply = _fill(template, brand or number)
    honour_by = (
        business_days_after(now, spec.honour_within_business_days, holidays) if opt_out else None
    )
    return InboundOutcome(
        intent, before, after, written, reply, honour_by, _reply_by(reply, now, spec)
    )


def _fill(template: str, brand: str) -> str:
    """The reply text: only ``{brand}`` is a placeholder (other braces stay as written)."""
    return template.replace("{brand}", brand)


def _reply_by(reply: str | None, now: datetime, spec: ConsentKeywords) -> datetime | None:
    return None if reply is None else now + timedelta(seconds=spec.confirmation_within_seconds)
