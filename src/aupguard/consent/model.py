"""The consent ledger's values: events with evidence, and the state they add up to.

The ledger is append-only. Each event belongs to one tenant and concerns one
recipient on one channel (or ``*``: every channel) for one *scope*: who the
consent is given to, written ``sender:+12025550143``, ``brand:acme``,
``campaign:C123`` or ``*`` (everything the tenant sends). State at any moment
is the fold of the events up to it: the latest opt-in or opt-out decides, an
opt-in past its expiry reads as unknown, and an explicit ``expiry`` event ends
an opt-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ALL",
    "ConsentEvent",
    "ConsentKind",
    "ConsentMethod",
    "ConsentStatus",
    "ConsentView",
    "check_scope",
    "fold",
    "scopes_for",
]

ALL = "*"
"""Scope or channel wildcard: every scope of the tenant, every channel."""

_SCOPE_KINDS = ("sender", "brand", "campaign")


class ConsentKind(StrEnum):
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    EXPIRY = "expiry"


class ConsentMethod(StrEnum):
    WEB_FORM = "web_form"
    KEYWORD = "keyword"
    VERBAL = "verbal"
    PAPER = "paper"
    IMPORT = "import"
    API = "api"


class ConsentEvent(BaseModel):
    """One entry of the ledger, with the evidence that backs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str = Field(min_length=1, max_length=128)
    scope: str = Field(default=ALL, min_length=1, max_length=160)
    recipient: str = Field(min_length=2, max_length=32)
    channel: str = Field(default=ALL, min_length=1, max_length=16)
    kind: ConsentKind
    at: datetime
    method: ConsentMethod = ConsentMethod.API
    source: str = Field(default="", max_length=256)
    """Where it came from: a source IP, a form id, the inbound message's id."""
    wording: str = Field(default="", max_length=2000)
    """The exact words shown (opt-in) or received (opt-out)."""
    expires: datetime | None = None
    age_verified: bool = False
    """Opt-in: the person's age was verified (age gating for restricted categories)."""

    @field_validator("at", "expires")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-03-01T12:00:00Z)")
        return value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        return check_scope(value)


def check_scope(value: str) -> str:
    """`value` if it is a scope ('*', 'sender:<number>', 'brand:<id>', 'campaign:<id>')."""
    if value == ALL:
        return value
    kind, sep, name = value.partition(":")
    if not sep or kind not in _SCOPE_KINDS or not name:
        raise ValueError("scope is '*', 'sender:<number>', 'brand:<id>' or 'campaign:<id>'")
    return value


class ConsentStatus(StrEnum):
    UNKNOWN = "unknown"
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True, slots=True)
class ConsentView:
    """What the ledger says about a recipient for a set of scopes and one channel."""

    status: ConsentStatus
    since: datetime | None = None
    method: str | None = None
    event: ConsentEvent | None = None

    @property
    def age_verified(self) -> bool:
        """The opt-in in effect recorded a verified age."""
        return (
            self.status is ConsentStatus.OPTED_IN
            and self.event is not None
            and self.event.age_verified
        )


UNKNOWN = ConsentView(ConsentStatus.UNKNOWN)


def scopes_for(sender: str | None, brand: str | None, campaign: str | None) -> frozenset[str]:
    """The scopes a message from `sender` (of `brand`, in `campaign`) falls under."""
    scopes = {ALL}
    if sender:
        scopes.add(f"sender:{sender}")
    if brand:
        scopes.add(f"brand:{brand}")
    if campaign:
        scopes.add(f"campaign:{campaign}")
    return frozenset(scopes)


def fold(
    events: Iterable[ConsentEvent],
    at: datetime,
    scopes: frozenset[str] | None = None,
    channel: str | None = None,
) -> ConsentView:
    """State at `at` from `events` (any order) that match `scopes` and `channel`.

    An opt-out in any matching scope wins over opt-ins given no later than it in
    another (a STOP to the brand stops its campaigns); a later opt-in in the same
    or a covering scope re-opts in. ``None`` matches every scope / channel.
    """
    latest_out: ConsentEvent | None = None
    latest_in: ConsentEvent | None = None
    ended: datetime | None = None
    for event in events:
        if event.at > at:
            continue
        if scopes is not None and event.scope != ALL and event.scope not in scopes:
            continue
        if channel is not None and event.channel not in (ALL, channel):
            continue
        if event.kind is ConsentKind.OPT_OUT:
            if latest_out is None or event.at >= latest_out.at:
                latest_out = event
        elif event.kind is ConsentKind.OPT_IN:
            if latest_in is None or event.at >= latest_in.at:
                latest_in = event
        elif ended is None or event.at > ended:
            ended = event.at
    if latest_out is not None and (latest_in is None or latest_out.at >= latest_in.at):
        return ConsentView(
            ConsentStatus.OPTED_OUT, latest_out.at, latest_out.method.value, latest_out
        )
    if latest_in is None:
        return UNKNOWN
    if ended is not None and ended >= latest_in.at:
        return UNKNOWN
    if latest_in.expires is not None and latest_in.expires <= at:
        return UNKNOWN
    return ConsentView(ConsentStatus.OPTED_IN, latest_in.at, latest_in.method.value, latest_in)
