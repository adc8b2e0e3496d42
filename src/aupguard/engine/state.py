"""The snapshot of stored state the engine needs to judge one event.

The service layer reads it from the stores (consent ledger, counters, account
standing, sender registry) and passes it in; library users may build it
themselves. Every field has a neutral default, so `State()` means "nothing is
known": no consent on record, an active account, no limit exceeded.

Rules read it with ``state: <path>`` conditions; the pack compiler checks every
path against these models when a pack loads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ConsentState(BaseModel):
    """Consent of this recipient for this sender/brand on this channel."""

    model_config = _FROZEN

    status: Literal["unknown", "opted_in", "opted_out"] = "unknown"
    since: datetime | None = None
    method: str | None = None
    dnc_listed: bool = False
    age_verified: bool = False


class AccountState(BaseModel):
    """The sending account (tenant) as enforcement and billing left it."""

    model_config = _FROZEN

    standing: Literal["trial", "active", "past_due", "suspended", "terminated"] = "active"
    suspended_channels: frozenset[str] = frozenset()
    suspended_senders: frozenset[str] = frozenset()
    held_keys: frozenset[str] = frozenset()
    """API key ids under an open credential-compromise incident (their messages are held)."""
    capabilities: frozenset[str] = frozenset()
    plan: str = "default"
    strikes: int = 0
    dispatchable_address: bool = True
    """False when the identity registry knows the account has no dispatchable address
    registered for emergency calls (True: nothing known against it)."""
    allowed_regions: frozenset[str] | None = None
    """Geo-permissions: destination regions the account enabled (None: no restriction)."""
    enabled_countries: frozenset[str] = frozenset()
    """Destinations this account enabled among those the pack makes opt-in (high-cost,
    `geo_permissions.opt_in`); see also `allowed_regions`, a whitelist."""


class SenderState(BaseModel):
    """What the registry knows about the sending number or sender id."""

    model_config = _FROZEN

    registered: bool = True
    verified: bool = True
    owner_matches: bool = True
    person_to_person: bool = False
    brands: frozenset[str] = frozenset()
    """Brands (keys of the pack's `brands` dataset) the sender is verified for."""
    verstat: Literal["", "TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation"] = ""
    """STIR/SHAKEN result for an inbound call's Identity header ("" when not checked)."""
    verstat_reason: str = ""
    attestation: Literal["", "A", "B", "C"] = ""


class RecipientState(BaseModel):
    """Facts about the recipient beyond their number (overrides for derived values)."""

    model_config = _FROZEN

    region: str | None = Field(default=None, min_length=2, max_length=2)
    subdivision: str | None = None
    timezone: str | None = None


class LimitState(BaseModel):
    """Outcome of the counter checks made for this event before the engine ran."""

    model_config = _FROZEN

    exceeded: frozenset[str] = frozenset()
    retry_after: float | None = Field(default=None, ge=0)
    fail_open: frozenset[str] = frozenset()
    """Limit families that could not be checked and fail open (the event went on)."""
    unavailable: frozenset[str] = frozenset()
    """Limit families that could not be checked and fail closed (plan quotas, call slots)."""


class MediaState(BaseModel):
    """Findings of attachment scanners that run before the engine (ClamAV's daemon)."""

    model_config = _FROZEN

    infected: frozenset[str] = frozenset()
    unscannable: frozenset[str] = frozenset()
    scanners: frozenset[str] = frozenset()


class State(BaseModel):
    model_config = _FROZEN

    consent: ConsentState = ConsentState()
    account: AccountState = AccountState()
    sender: SenderState = SenderState()
    recipient: RecipientState = RecipientState()
    limits: LimitState = LimitState()
    media: MediaState = MediaState()
    signals: dict[str, float] = Field(default_factory=dict)
    """Numeric signals computed by services (fan-out, probing counts...); missing reads as 0."""


EMPTY_STATE = State()
