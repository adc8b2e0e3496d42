"""Consent records for the HTTP API, authorized on the Actor: record an opt-in
(with its evidence), an opt-out or an expiry in the tenant's ledger, and read a
recipient's consent per scope and channel. A number of which the tenant has no
record reads as not found, whichever other tenant has one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aupguard.actors import Actor, Role, require
from aupguard.consent.model import ConsentEvent, ConsentView, fold
from aupguard.consent.status import Revocation, ScopeState, revocations, scope_states
from aupguard.consent.store import PLATFORM_LIST, ConsentStore, DncEntry, DncStore
from aupguard.service.gateway import READ_ROLES, SCREEN_ROLES, tenant_of

__all__ = [
    "ConsentNotFound",
    "ConsentRefused",
    "DncNotListed",
    "RecipientConsent",
    "consent_of",
    "do_not_contact",
    "list_do_not_contact",
    "record_consent",
    "remove_do_not_contact",
]

DNC_REMOVE_ROLES = (Role.TENANT_ADMIN, Role.ADMIN)
"""Unlisting a number lets the tenant contact it again: admin keys only."""

FUTURE_SLACK = timedelta(minutes=5)
"""How far ahead of the server's clock an event's time may be (clock skew)."""


class ConsentNotFound(LookupError):
    def __init__(self, number: str) -> None:
        super().__init__(f"there is no consent record of {number} for this tenant")


class ConsentRefused(ValueError):
    """A record that is well-formed but cannot be evidence (named field, code)."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def record_consent(
    ledger: ConsentStore,
    actor: Actor,
    details: Mapping[str, Any],
    now: datetime,
    tenant: str | None = None,
) -> tuple[ConsentEvent, ConsentView]:
    """Append one event (`details`: the fields of a ConsentEvent but the tenant; `at`
    defaults to `now`) to the actor's tenant's ledger (staff name the tenant);
    returns it and the state it leaves for its scope and channel."""
    require(actor, *SCREEN_ROLES, action="record consent (needs the send or admin scope)")
    owner = tenant_of(actor, tenant)
    event = ConsentEvent.model_validate(
        {**details, "tenant": owner, "at": details.get("at") or now}
    )
    if event.at > now + FUTURE_SLACK:
        raise ConsentRefused("at", "in_the_future", "The event's time 'at' is in the future.")
    if event.expires is not None and event.expires <= event.at:
        raise ConsentRefused("expires", "not_after_at", "'expires' must be later than 'at'.")
    if event.kind.value == "opt_in" and not (event.source.strip() or event.wording.strip()):
        raise ConsentRefused(
            "wording",
            "evidence_missing",
            "An opt-in needs its evidence: the words shown ('wording') or where it was "
            "given ('source': a form id, an IP address, a message id).",
        )
    ledger.append([event])
    history = ledger.history(owner, event.recipient)
    states = scope_states(history, max(now, event.at))
    view = next(s.view for s in states if (s.scope, s.channel) == (event.scope, event.channel))
    return event, view


@dataclass(frozen=True, slots=True)
class RecipientConsent:
    tenant: str
    recipient: str
    at: datetime
    overall: ConsentView
    """Everything the tenant sends, every channel (an opt-out anywhere reads as one)."""
    scopes: list[ScopeState]
    revocations: list[Revocation]
    do_not_call: bool
    events: int


def consent_of(
    ledger: ConsentStore,
    dnc: DncStore,
    actor: Actor,
    recipient: str,
    at: datetime,
    *,
    tenant: str | None = None,
    honour_days: int = 10,
    holidays: frozenset[date] = frozenset(),
) -> RecipientConsent:
    require(actor, *READ_ROLES, action="read consent records")
    owner = tenant_of(actor, tenant)
    events = ledger.history(owner, recipient, until=at)
    listed = dnc.listed_in((owner, PLATFORM_LIST), recipient)
    if not events and not listed:
        raise ConsentNotFound(recipient)
    return RecipientConsent(
        tenant=owner,
        recipient=recipient,
        at=at,
        overall=fold(events, at),
        scopes=scope_states(events, at),
        revocations=revocations(events, at, honour_days, holidays),
        do_not_call=listed,
        events=len(events),
    )


class DncNotListed(LookupError):
    def __init__(self, number: str) -> None:
        super().__init__(f"{number} is not on this tenant's do-not-contact list")


def do_not_contact(
    dnc: DncStore,
    actor: Actor,
    numbers: list[str],
    source: str,
    now: datetime,
    tenant: str | None = None,
) -> int:
    """List E.164 numbers on the tenant's internal do-not-contact list (read at every
    send from then on); returns how many were not listed before."""
    require(actor, *SCREEN_ROLES, action="list numbers as do-not-contact (needs send or admin)")
    return dnc.add(tenant_of(actor, tenant), numbers, source, now)


def remove_do_not_contact(
    dnc: DncStore, actor: Actor, number: str, tenant: str | None = None
) -> None:
    """Take a number off the tenant's list (the platform-wide list is not the tenant's)."""
    require(actor, *DNC_REMOVE_ROLES, action="unlist a do-not-contact number (needs admin)")
    if not dnc.remove(tenant_of(actor, tenant), [number]):
        raise DncNotListed(number)


def list_do_not_contact(
    dnc: DncStore, actor: Actor, after: str | None, limit: int, tenant: str | None = None
) -> list[DncEntry]:
    """A page of the tenant's list by number, after the number `after` (keyset)."""
    require(actor, *READ_ROLES, action="read the do-not-contact list")
    return dnc.page(tenant_of(actor, tenant), after, limit)
