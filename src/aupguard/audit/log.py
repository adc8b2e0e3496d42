"""The audit log store: an append-only hash chain with signed checkpoints.

`AuditLog` is the Protocol; `MemoryAuditLog` keeps the chain in memory and
`audit.sql.SqlAuditLog` in SQLite/PostgreSQL. Appends take a batch of drafts
and make them durable together (one transaction), so a writer that gathers
entries commits thousands per second. Every `checkpoint_every` entries, when a
signing key is configured, the head of the chain is signed with Ed25519: even
someone who rewrites the whole chain after a checkpoint cannot forge it.

Reads are per tenant (`entries`); only `scan` (for verification, by staff)
walks the whole chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aupguard.audit.chain import GENESIS, AuditDraft, AuditEntry, Link, seal
from aupguard.audit.keys import Signer

__all__ = ["AuditLog", "Checkpoint", "MemoryAuditLog", "checkpoint_message"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    at: datetime
    hash: str
    key_id: str
    signature: str


def checkpoint_message(seq: int, hash_: str) -> bytes:
    """The bytes a checkpoint signs: the position and hash of the chain's head."""
    return f"aupguard-audit-checkpoint:{seq}:{hash_}".encode()


class AuditLog(Protocol):
    def append(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append the drafts in order, durably and together; return them sealed."""
        ...

    def entries(
        self, tenant: str, *, kind: str | None = None, subject: str | None = None
    ) -> list[AuditEntry]:
        """This tenant's entries in chain order (never another tenant's)."""
        ...

    def recent(
        self,
        tenant: str | None = None,
        *,
        kind: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """A page of entries, newest first, with seq below `before` (keyset); of one
        tenant, or of all (None: staff use, the audit viewer)."""
        ...

    def scan(self, after: int = 0) -> Iterator[AuditEntry]:
        """The whole chain from seq `after + 1` on (staff use: verification)."""
        ...

    def links(self, after: int = 0) -> Iterator[Link]:
        """The chain as stored, for the verifier (no parsing of what it hashes)."""
        ...

    def head(self) -> tuple[int, str]:
        """The seq and hash of the last entry ((0, GENESIS) for an empty log)."""
        ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (None without a signing key or entries)."""
        ...


class MemoryAuditLog:
    def __init__(
        self,
        signer: Signer | None = None,
        checkpoint_every: int = 1000,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.clock = clock
        self._entries: list[AuditEntry] = []
        self._checkpoints: list[Checkpoint] = []
        self._lock = threading.Lock()

    def append(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        with self._lock:
            seq, prev = self._head()
            now = self.clock()
            sealed: list[AuditEntry] = []
            for draft in drafts:
                seq += 1
                entry = seal(draft, seq, prev, now)
                prev = entry.hash
                sealed.append(entry)
            first = self._head()[0]
            self._entries.extend(sealed)
            if crosses(first, seq, self.checkpoint_every):
                self._sign(seq, prev, now)
            return sealed

    def _head(self) -> tuple[int, str]:
        if not self._entries:
            return 0, GENESIS
        last = self._entries[-1]
        return last.seq, last.hash

    def _sign(self, seq: int, hash_: str, now: datetime) -> Checkpoint | None:
        if self.signer is None or seq == 0:
            return None
        point = Checkpoint(
            seq=seq,
            at=now,
            hash=hash_,
            key_id=self.signer.key_id,
            signature=self.signer.sign(checkpoint_message(seq, hash_)),
        )
        self._checkpoints.append(point)
        return point

    def entries(
        self, tenant: str, *, kind: str | None = None, subject: str | None = None
    ) -> list[AuditEntry]:
        with self._lock:
            return [
                e
                for e in self._entries
                if e.tenant == tenant
                and (kind is None or e.kind == kind)
                and (subject is None or e.subject == subject)
            ]

    def recent(
        self,
        tenant: str | None = None,
        *,
        kind: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        with self._lock:
            found = [
                e
                for e in reversed(self._entries)
                if (tenant is None or e.tenant == tenant)
                and (kind is None or e.kind == kind)
                and (before is None or e.seq < before)
            ]
        return found[:limit]

    def scan(self, after: int = 0) -> Iterator[AuditEntry]:
        with self._lock:
            chosen = [e for e in self._entries if e.seq > after]
        yield from chosen

    def links(self, after: int = 0) -> Iterator[Link]:
        for entry in self.scan(after):
            yield entry.link()

    def head(self) -> tuple[int, str]:
        with self._lock:
            return self._head()

    def checkpoints(self) -> list[Checkpoint]:
        with self._lock:
            return list(self._checkpoints)

    def checkpoint(self) -> Checkpoint | None:
        with self._lock:
            seq, hash_ = self._head()
            return self._sign(seq, hash_, self.clock())

    def tamper(self, seq: int, entry: AuditEntry) -> None:
        """Replace an entry as an attacker with storage access would (tests only)."""
        with self._lock:
            self._entries[seq - 1] = entry


def crosses(first: int, last: int, every: int) -> bool:
    """Whether the seqs (first, last] include a multiple of `every`."""
    return every > 0 and last // every > first // every
