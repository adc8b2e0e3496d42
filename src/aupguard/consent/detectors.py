"""Consent detectors over pack data: quiet hours in the recipient's time and the
states' same-subject caps per 24 h (P15)."""

from __future__ import annotations

from aupguard.consent.quiet_hours import QuietIndex, daily_cap, wait_for
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.events import CallAttempt, EventKind, OutboundMessage
from aupguard.engine.registry import ValueType, detector
from aupguard.identity.numbering import e164

__all__ = ["over_daily_cap", "quiet_hours_wait"]


@detector(
    "consent.quiet_hours_wait",
    output=ValueType.NUMBER,
    events=frozenset({EventKind.MESSAGE, EventKind.CALL}),
)
def quiet_hours_wait(ctx: Context) -> float:
    """Seconds until the recipient's local time is inside every applicable window (0: now)."""
    event = ctx.event
    if not isinstance(event, OutboundMessage | CallAttempt):
        return 0.0
    index: QuietIndex | None = ctx.pack.data.get("quiet_hours")
    number = e164(event.to, ctx.state.recipient.region)
    if index is None or number is None:
        return 0.0
    recipient = ctx.state.recipient
    wait = wait_for(
        number,
        ctx.now,
        index,
        subdivision=recipient.subdivision,
        zone=recipient.timezone,
        opted_in=ctx.state.consent.status == "opted_in",
    )
    if wait.seconds <= 0:
        return 0.0
    until = wait.until.isoformat() if wait.until is not None else "more than 14 days"
    ctx.add_evidence(
        "consent.quiet_hours_wait",
        Evidence(
            "consent.quiet_hours_wait",
            f"{wait.rule} quiet hours in {wait.zone}; next allowed {until}",
            "to",
        ),
    )
    return wait.seconds


@detector("consent.over_daily_cap", output=ValueType.BOOL, events=frozenset({EventKind.MESSAGE}))
def over_daily_cap(ctx: Context) -> bool:
    """The recipient already got as many solicitations on this subject in 24 h as a state
    that applies allows (signals.same_subject_24h, counted by ConsentSignals)."""
    event = ctx.event
    if not isinstance(event, OutboundMessage):
        return False
    sent = ctx.state.signals.get("same_subject_24h", 0.0)
    if sent <= 0:
        return False
    index: QuietIndex | None = ctx.pack.data.get("quiet_hours")
    number = e164(event.to, ctx.state.recipient.region)
    if index is None or number is None:
        return False
    cap = daily_cap(number, index, ctx.state.recipient.subdivision)
    if cap is None or sent < cap[0]:
        return False
    ctx.add_evidence(
        "consent.over_daily_cap",
        Evidence(
            "consent.over_daily_cap",
            f"{int(sent)} sent on this subject in 24 h; {cap[1]} allows {cap[0]}",
            "to",
        ),
    )
    return True
