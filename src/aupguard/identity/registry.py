"""The registry of an account's numbers and sender ids, with verification evidence.

A sender (E.164 number, short code, toll-free number, alphanumeric id, 10DLC
or WhatsApp business number) is registered *pending* and becomes *verified*
with evidence: a verification code sent by call or SMS and read back, a
carrier letter of authorisation, the platform having assigned the number, a
brand/campaign registration, or the customer's own attestation. The evidence
decides the SHAKEN attestation the platform signs its calls with.

`SenderRegistry` is the store Protocol; `MemorySenderRegistry` keeps it in
memory and `identity.sql.SqlSenderRegistry` in SQLite/PostgreSQL. Every row
belongs to a tenant; the one read across tenants is `verified_elsewhere`,
which answers only whether *another* account verified the same sender.
"""

from __future__ import annotations

import threading
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from aupguard.engine.events import SenderType

__all__ = [
    "FULL_ATTESTATION_EVIDENCE",
    "AccountProfile",
    "Challenge",
    "EvidenceKind",
    "MemorySenderRegistry",
    "SenderEvidence",
    "SenderRecord",
    "SenderRegistry",
    "attestation_for",
]


class EvidenceKind(StrEnum):
    VERIFICATION_CALL = "verification_call"
    VERIFICATION_SMS = "verification_sms"
    CARRIER_LOA = "carrier_loa"
    PLATFORM_ASSIGNED = "platform_assigned"
    BRAND_REGISTRATION = "brand_registration"
    WHATSAPP_BUSINESS = "whatsapp_business"
    CUSTOMER_ATTESTATION = "customer_attestation"


FULL_ATTESTATION_EVIDENCE = frozenset(
    {
        EvidenceKind.VERIFICATION_CALL,
        EvidenceKind.VERIFICATION_SMS,
        EvidenceKind.CARRIER_LOA,
        EvidenceKind.PLATFORM_ASSIGNED,
    }
)
"""Evidence that the account has the right to use the number itself (SHAKEN attestation A)."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SenderEvidence(BaseModel):
    model_config = _FROZEN

    kind: EvidenceKind
    reference: str | None = Field(default=None, max_length=256)
    at: datetime
    by: str | None = Field(default=None, max_length=128)


class Challenge(BaseModel):
    """A pending verification code (only its salted hash is kept)."""

    model_config = _FROZEN

    channel: Literal["call", "sms"]
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    salt: str = Field(pattern=r"^[0-9a-f]{32}$")
    expires: datetime
    attempts: int = Field(default=0, ge=0)


class SenderRecord(BaseModel):
    model_config = _FROZEN

    tenant: str = Field(min_length=1, max_length=128)
    sender: str = Field(min_length=1, max_length=64)
    kind: SenderType
    status: Literal["pending", "verified", "revoked"] = "pending"
    brand: str | None = Field(default=None, max_length=128)
    campaign: str | None = Field(default=None, max_length=128)
    evidence: tuple[SenderEvidence, ...] = ()
    challenge: Challenge | None = None
    created: datetime
    updated: datetime

    @property
    def verified(self) -> bool:
        return self.status == "verified"


class AccountProfile(BaseModel):
    """Account-wide identity facts: the dispatchable address registered for emergency
    calls, and the destination regions the account enabled (None: no restriction)."""

    model_config = _FROZEN

    tenant: str = Field(min_length=1, max_length=128)
    emergency_address: str | None = Field(default=None, max_length=512)
    allowed_regions: frozenset[str] | None = None


def attestation_for(record: SenderRecord | None) -> Literal["A", "B"] | None:
    """The SHAKEN attestation a verified record earns: A with evidence of the right to
    use the number, B when the account is known but only vouches for it itself."""
    if record is None or not record.verified:
        return None
    if any(e.kind in FULL_ATTESTATION_EVIDENCE for e in record.evidence):
        return "A"
    return "B"


class SenderRegistry(Protocol):
    def get(self, tenant: str, sender: str) -> SenderRecord | None: ...

    def put(self, record: SenderRecord) -> None:
        """Insert or replace the record of (tenant, sender)."""
        ...

    def list(self, tenant: str) -> list[SenderRecord]:
        """The tenant's senders, ordered by sender."""
        ...

    def delete(self, tenant: str, sender: str) -> bool: ...

    def verified_elsewhere(self, tenant: str, sender: str) -> bool:
        """Whether an account other than `tenant` has verified `sender`."""
        ...

    def get_profile(self, tenant: str) -> AccountProfile | None: ...

    def put_profile(self, profile: AccountProfile) -> None: ...


class MemorySenderRegistry:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], SenderRecord] = {}
        self._profiles: dict[str, AccountProfile] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str, sender: str) -> SenderRecord | None:
        return self._records.get((tenant, sender))

    def put(self, record: SenderRecord) -> None:
        with self._lock:
            self._records[(record.tenant, record.sender)] = record

    def list(self, tenant: str) -> list[SenderRecord]:
        return sorted(
            (r for (t, _), r in self._records.items() if t == tenant), key=lambda r: r.sender
        )

    def delete(self, tenant: str, sender: str) -> bool:
        with self._lock:
            return self._records.pop((tenant, sender), None) is not None

    def verified_elsewhere(self, tenant: str, sender: str) -> bool:
        return any(
            t != tenant and s == sender and r.verified for (t, s), r in self._records.items()
        )

    def get_profile(self, tenant: str) -> AccountProfile | None:
        return self._profiles.get(tenant)

    def put_profile(self, profile: AccountProfile) -> None:
        with self._lock:
            self._profiles[profile.tenant] = profile
