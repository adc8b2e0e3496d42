"""A recipient's consent as it stands, per scope and channel, with the evidence and,
for each opt-out in effect, when the revocation arrived and the outer limit for
honouring it (FCC: 10 business days; aupguard honours it at once, so this is for
records and audits). `aupguard consent show` and `GET /v1/consent/{number}`
print the same."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aupguard.consent.keywords import KeywordIndex
from aupguard.consent.model import ALL, ConsentEvent, ConsentKind, ConsentStatus, ConsentView, fold
from aupguard.consent.service import business_days_after

__all__ = ["Revocation", "ScopeState", "honour_terms", "revocations", "scope_states"]


@dataclass(frozen=True, slots=True)
class ScopeState:
    scope: str
    channel: str
    view: ConsentView


@dataclass(frozen=True, slots=True)
class Revocation:
    scope: str
    received: datetime
    """The first opt-out after the last opt-in of the scope."""
    honour_by: datetime


def scope_states(events: list[ConsentEvent], at: datetime) -> list[ScopeState]:
    """The state in effect per scope and channel (a ``*`` channel event covers them all)."""
    out = []
    for scope, channel in sorted({(e.scope, e.channel) for e in events}):
        if channel == ALL:
            view = fold([e for e in events if e.channel == ALL], at, frozenset({scope}))
        else:
            view = fold(events, at, frozenset({scope}), channel)
        out.append(ScopeState(scope, channel, view))
    return out


def revocations(
    events: list[ConsentEvent], at: datetime, days: int, holidays: frozenset[date]
) -> list[Revocation]:
    """Each scope whose opt-out is in effect at `at`: when it came, and the outer limit."""
    out = []
    for scope in sorted({e.scope for e in events}):
        view = fold(events, at, frozenset({scope}))
        if view.event is None or view.status is not ConsentStatus.OPTED_OUT:
            continue
        if view.event.scope != scope:  # a wider scope's opt-out: listed under that scope
            continue
        scoped = [e for e in events if e.scope == scope and e.at <= at]
        last_in = max((e.at for e in scoped if e.kind is ConsentKind.OPT_IN), default=None)
        received = min(
            e.at
            for e in scoped
            if e.kind is ConsentKind.OPT_OUT and (last_in is None or e.at >= last_in)
        )
        out.append(Revocation(scope, received, business_days_after(received, days, holidays)))
    return out


def honour_terms(data: Mapping[str, Any], country: str) -> tuple[int, frozenset[date]]:
    """From a pack's data: business days allowed to honour an opt-out, and the
    legal holidays of `country` that do not count."""
    from aupguard.consent.quiet_hours import QuietIndex

    keywords = data.get("consent_keywords")
    quiet = data.get("quiet_hours")
    days = keywords.spec.honour_within_business_days if isinstance(keywords, KeywordIndex) else 10
    holidays = quiet.holidays_of(country) if isinstance(quiet, QuietIndex) else frozenset()
    return days, holidays
