"""The sending account's own standing, as enforcement left it."""

from __future__ import annotations

from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.events import EventKind, OutboundMessage
from aupguard.engine.registry import ValueType, detector


@detector(
    "account.channel_suspended",
    output=ValueType.BOOL,
    events=frozenset({EventKind.MESSAGE}),
)
def channel_suspended(ctx: Context) -> bool:
    """The message's channel, or its sender, is suspended for this account."""
    event = ctx.event
    if not isinstance(event, OutboundMessage):
        return False
    account = ctx.state.account
    if event.channel.value in account.suspended_channels:
        label = f"channel {event.channel.value} suspended"
    elif event.sender in account.suspended_senders:
        label = f"sender {event.sender} suspended"
    else:
        return False
    ctx.add_evidence("account.channel_suspended", Evidence("account.channel_suspended", label, ""))
    return True


@detector(
    "account.key_held",
    output=ValueType.BOOL,
    events=frozenset({EventKind.MESSAGE, EventKind.API_REQUEST}),
)
def key_held(ctx: Context) -> bool:
    """The event was sent with an API key held under a credential-compromise incident."""
    key = getattr(ctx.event, "api_key", None)
    if key is None or key not in ctx.state.account.held_keys:
        return False
    ctx.add_evidence(
        "account.key_held", Evidence("account.key_held", f"API key {key} held", "api_key")
    )
    return True
