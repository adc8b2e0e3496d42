"""Consent detectors over pack data: quiet hours in the recipient's time (P15)."""

from __future__ import annotations

from aupguard.consent.quiet_hours import QuietIndex, wait_for
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.events import CallAttempt, EventKind, OutboundMessage
from aupguard.engine.registry import ValueType, detector
from aupguard.identity.numbering import e164

__all__ = ["quiet_hours_wait"]


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
