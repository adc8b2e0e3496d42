"""Gateway services: what the HTTP API's send path calls, authorized on the Actor.

Phase 1 has screening only (decision, nothing sent). The outbox, delivery and
message records of the gateway join this module (see docs/api.md).
"""

from __future__ import annotations

from aupguard.actors import Actor, Forbidden, Role, require
from aupguard.engine.decision import Decision
from aupguard.engine.events import AnyEvent
from aupguard.service.screening import Screener

__all__ = ["check_screen", "for_tenant"]

SCREEN_ROLES = (Role.SENDER, Role.TENANT_ADMIN, Role.ADMIN)


def for_tenant(actor: Actor, event: AnyEvent) -> AnyEvent:
    """The event as the actor's tenant's: a tenant actor cannot act for another
    tenant (an explicit other `account` is refused) and an event without one is
    given the actor's. Staff act for the account the event names."""
    if actor.tenant is None or event.account == actor.tenant:
        return event
    if "account" in event.model_fields_set:
        raise Forbidden(
            actor, f"act for account {event.account!r} (the key belongs to {actor.tenant!r})"
        )
    return event.model_copy(update={"account": actor.tenant})


def check_screen(screener: Screener, actor: Actor, event: AnyEvent) -> Decision:
    """Screen an event without sending it: needs the send or admin scope (or staff admin)."""
    require(actor, *SCREEN_ROLES, action="screen events (needs the send or admin scope)")
    return screener.screen(for_tenant(actor, event))
