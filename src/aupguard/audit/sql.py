"""The audit log in SQLite or PostgreSQL (tables of the `audit` migration branch).

Appends lock the one-row `audit_head` table first (an UPDATE), so concurrent
writers (threads, processes, servers) serialise and the chain never forks;
then they read the head, insert the batch and move the head, in one
transaction. `append_in` does the same inside a caller's transaction, so that
a state change and its audit entry commit together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, Table, Text, insert, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from aupguard.audit.chain import AuditDraft, AuditEntry, Link, canonical, seal, stamp
from aupguard.audit.keys import Signer
from aupguard.audit.log import Checkpoint, checkpoint_message, crosses
from aupguard.store.base import Base, UtcDateTime
from aupguard.store.db import Database

__all__ = ["AuditCheckpointRow", "AuditEntryRow", "AuditHeadRow", "SqlAuditLog"]


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    payload: Mapped[str] = mapped_column(Text)
    """Canonical JSON text (what the digest covers)."""
    digest: Mapped[str] = mapped_column(String(64))
    prev: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


def _utc_now() -> datetime:
    return datetime.now(UTC)


_ENTRY: Table = AuditEntryRow.__table__  # type: ignore[assignment]
_HEAD: Table = AuditHeadRow.__table__  # type: ignore[assignment]
_COLUMNS = (
    _ENTRY.c.seq,
    _ENTRY.c.at,
    _ENTRY.c.tenant,
    _ENTRY.c.actor,
    _ENTRY.c.kind,
    _ENTRY.c.subject,
    _ENTRY.c.payload,
    _ENTRY.c.digest,
    _ENTRY.c.prev,
    _ENTRY.c.hash,
)


def _entry(row: Any) -> AuditEntry:
    seq, at, tenant, actor, kind, subject, payload, digest, prev, hash_ = row
    return AuditEntry(
        seq, at, tenant, actor, kind, subject, json.loads(payload), digest, prev, hash_
    )


_LINKS = text(
    "SELECT seq, at, tenant, actor, kind, subject, payload, digest, prev, hash"
    " FROM audit_entries WHERE seq > :after ORDER BY seq LIMIT :limit"
)


class SqlAuditLog:
    def __init__(
        self,
        db: Database,
        signer: Signer | None = None,
        checkpoint_every: int = 1000,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.db = db
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.clock = clock

    def append(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        with self.db.transaction() as session:
            return self.append_in(session, drafts)

    def append_in(self, session: Session, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append within the caller's transaction (committed, or not, with its work)."""
        if not drafts:
            return []
        head = _HEAD
        session.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))
        first, prev = session.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).one()
        now = self.clock()
        seq = first
        sealed: list[AuditEntry] = []
        for draft in drafts:
            seq += 1
            entry = seal(draft, seq, prev, now)
            prev = entry.hash
            sealed.append(entry)
        session.execute(
            insert(_ENTRY),
            [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "tenant": e.tenant,
                    "actor": e.actor,
                    "kind": e.kind,
                    "subject": e.subject,
                    "payload": canonical(e.payload).decode(),
                    "digest": e.digest,
                    "prev": e.prev,
                    "hash": e.hash,
                }
                for e in sealed
            ],
        )
        session.execute(update(head).where(head.c.id == 1).values(seq=seq, hash=prev))
        if crosses(first, seq, self.checkpoint_every):
            self._sign(session, seq, prev, now)
        return sealed

    def _sign(self, session: Session, seq: int, hash_: str, now: datetime) -> Checkpoint | None:
        if self.signer is None or seq == 0:
            return None
        point = Checkpoint(
            seq=seq,
            at=now,
            hash=hash_,
            key_id=self.signer.key_id,
            signature=self.signer.sign(checkpoint_message(seq, hash_)),
        )
        existing = session.get(AuditCheckpointRow, seq)
        if existing is None:
            session.add(
                AuditCheckpointRow(
                    seq=seq, at=now, hash=hash_, key_id=point.key_id, signature=point.signature
                )
            )
        return point

    def entries(
        self, tenant: str, *, kind: str | None = None, subject: str | None = None
    ) -> list[AuditEntry]:
        query = select(*_COLUMNS).where(_ENTRY.c.tenant == tenant)
        if kind is not None:
            query = query.where(_ENTRY.c.kind == kind)
        if subject is not None:
            query = query.where(_ENTRY.c.subject == subject)
        with self.db.transaction() as session:
            return [_entry(r) for r in session.execute(query.order_by(_ENTRY.c.seq))]

    def recent(
        self,
        tenant: str | None = None,
        *,
        kind: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        query = select(*_COLUMNS)
        if tenant is not None:
            query = query.where(_ENTRY.c.tenant == tenant)
        if kind is not None:
            query = query.where(_ENTRY.c.kind == kind)
        if before is not None:
            query = query.where(_ENTRY.c.seq < before)
        with self.db.engine.connect() as connection:
            rows = connection.execute(query.order_by(_ENTRY.c.seq.desc()).limit(limit)).all()
        return [_entry(r) for r in rows]

    def scan(self, after: int = 0, batch: int = 20_000) -> Iterator[AuditEntry]:
        """Stream the chain in pages (constant memory over millions of entries)."""
        last = after
        while True:
            query = select(*_COLUMNS).where(_ENTRY.c.seq > last).order_by(_ENTRY.c.seq).limit(batch)
            with self.db.engine.connect() as connection:
                rows = connection.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            last = rows[-1][0]

    def links(self, after: int = 0, batch: int = 20_000) -> Iterator[Link]:
        """The stored rows as they are (no type conversion: SQLite gives the time as the
        text that was hashed; PostgreSQL a datetime, written back the same way)."""
        last = after
        while True:
            with self.db.engine.connect() as connection:
                rows = connection.execute(_LINKS, {"after": last, "limit": batch}).all()
            if not rows:
                return
            for row in rows:
                at = row[1]
                yield (
                    row[0],
                    at if isinstance(at, str) else stamp(at),
                    row[2],
                    row[3],
                    row[4],
                    row[5],
                    row[6],
                    row[7],
                    row[8],
                    row[9],
                )
            last = rows[-1][0]

    def head(self) -> tuple[int, str]:
        head = _HEAD
        with self.db.transaction() as session:
            seq, hash_ = session.execute(
                select(head.c.seq, head.c.hash).where(head.c.id == 1)
            ).one()
            return int(seq), str(hash_)

    def checkpoints(self) -> list[Checkpoint]:
        with self.db.transaction() as session:
            rows = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))
            return [Checkpoint(r.seq, r.at, r.hash, r.key_id, r.signature) for r in rows]

    def checkpoint(self) -> Checkpoint | None:
        head = _HEAD
        with self.db.transaction() as session:
            session.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))
            seq, hash_ = session.execute(
                select(head.c.seq, head.c.hash).where(head.c.id == 1)
            ).one()
            return self._sign(session, int(seq), str(hash_), self.clock())
