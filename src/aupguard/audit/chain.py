"""Entries of the tamper-evident audit log and how their hashes chain.

Every entry carries the hash of the one before it; changing, removing or
reordering any entry breaks every hash after it. The payload is stored
redacted (what a rule needs as evidence, never message content in full) and
as a SHA-256 digest of its canonical JSON, so a payload changed in storage is
caught as well. The first entry chains from `GENESIS`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "GENESIS",
    "PLATFORM",
    "AuditDraft",
    "AuditEntry",
    "canonical",
    "entry_hash",
    "payload_digest",
    "seal",
]

GENESIS = "0" * 64
PLATFORM = "_platform"
"""The tenant of entries about the platform itself (policy versions, staff actions)."""


def canonical(payload: dict[str, Any]) -> bytes:
    """The bytes a payload is hashed as: JSON with sorted keys and no spaces."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def payload_digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev: str,
    seq: int,
    at: datetime,
    tenant: str,
    actor: str,
    kind: str,
    subject: str,
    digest: str,
) -> str:
    text = "\x1f".join((prev, str(seq), _stamp(at), tenant, actor, kind, subject, digest))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """An entry before it is appended (the log gives it its place, time and hashes)."""

    tenant: str
    actor: str
    kind: str
    subject: str
    payload: dict[str, Any]
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    tenant: str
    actor: str
    kind: str
    subject: str
    payload: dict[str, Any]
    digest: str
    prev: str
    hash: str

    def expected_hash(self) -> str:
        return entry_hash(
            self.prev,
            self.seq,
            self.at,
            self.tenant,
            self.actor,
            self.kind,
            self.subject,
            self.digest,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": _stamp(self.at),
            "tenant": self.tenant,
            "actor": self.actor,
            "kind": self.kind,
            "subject": self.subject,
            "payload": self.payload,
            "digest": self.digest,
            "prev": self.prev,
            "hash": self.hash,
        }


def seal(draft: AuditDraft, seq: int, prev: str, now: datetime) -> AuditEntry:
    """Give a draft its place in the chain."""
    at = (draft.at or now).astimezone(UTC)
    payload = json.loads(canonical(draft.payload))  # exactly what storage will give back
    digest = payload_digest(payload)
    return AuditEntry(
        seq=seq,
        at=at,
        tenant=draft.tenant,
        actor=draft.actor,
        kind=draft.kind,
        subject=draft.subject,
        payload=payload,
        digest=digest,
        prev=prev,
        hash=entry_hash(
            prev, seq, at, draft.tenant, draft.actor, draft.kind, draft.subject, digest
        ),
    )
