"""Entries of the tamper-evident audit log and how their hashes chain.

Every entry carries the hash of the one before it; changing, removing or
reordering any entry breaks every hash after it. The payload is stored
redacted (what a rule needs as evidence, never message content in full) as
canonical JSON text (sorted keys, no spaces) with the SHA-256 digest of that
text, so a payload changed in storage is caught as well. The first entry
chains from `GENESIS`.

An entry's hash covers ``prev, seq, time, tenant, actor, kind, subject,
digest`` joined by the unit separator; the time is written
``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (the form SQLite stores it in, so a
verifier can hash stored rows without parsing them).
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
    "Link",
    "canonical",
    "entry_hash",
    "payload_digest",
    "seal",
    "stamp",
]

GENESIS = "0" * 64
PLATFORM = "_platform"
"""The tenant of entries about the platform itself (policy versions, staff actions)."""

Link = tuple[int, str, str, str, str, str, str, str, str, str]
"""An entry as stored: seq, time stamp, tenant, actor, kind, subject, payload text,
digest, prev, hash (what the verifier reads)."""


def canonical(payload: dict[str, Any]) -> bytes:
    """The bytes a payload is kept and hashed as: JSON with sorted keys and no spaces."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def payload_digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def entry_hash(
    prev: str,
    seq: int,
    at: str,
    tenant: str,
    actor: str,
    kind: str,
    subject: str,
    digest: str,
) -> str:
    text = "\x1f".join((prev, str(seq), at, tenant, actor, kind, subject, digest))
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

    def link(self) -> Link:
        return (
            self.seq,
            stamp(self.at),
            self.tenant,
            self.actor,
            self.kind,
            self.subject,
            canonical(self.payload).decode(),
            self.digest,
            self.prev,
            self.hash,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
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
    text = canonical(draft.payload)
    payload = json.loads(text)  # exactly what storage will give back
    digest = hashlib.sha256(text).hexdigest()
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
            prev, seq, stamp(at), draft.tenant, draft.actor, draft.kind, draft.subject, digest
        ),
    )
