"""The SQL message store (SQLite embedded, PostgreSQL for servers).

Tables of the Alembic branch ``gateway`` (revision gateway_0004):
`gateway_messages`, `gateway_decisions`, `gateway_outbox`,
`gateway_idempotency`. SQLAlchemy Core, not the ORM: a batch of a few hundred
sends is four multi-row INSERTs in one transaction (psycopg's pipelined
executemany on PostgreSQL; one fsync per batch on SQLite in WAL mode with
synchronous=FULL). Rule and clause lists are stored as ``,a,b,`` so that a
filter is one LIKE.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any, Literal, TypeVar

import orjson

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own locking only
    fcntl = None  # type: ignore[assignment]
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from aupguard.outbox.model import (
    IDEMPOTENCY_TTL,
    Accept,
    Accepted,
    DecisionQuery,
    DecisionRecord,
    IdempotencyEntry,
    MessageQuery,
    MessageRecord,
    OutboxEntry,
)
from aupguard.outbox.store import Review, StatusUpdate
from aupguard.store.base import Base, UtcDateTime
from aupguard.store.db import Database

__all__ = ["SqlMessageStore", "decisions", "idempotency", "messages", "outbox"]

metadata = Base.metadata

messages = Table(
    "gateway_messages",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("sender", String(320), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("code", Integer, nullable=True),
    Column("error_code", Integer, nullable=True),
    Column("rules", Text, nullable=False),
    Column("clauses", Text, nullable=False),
    Column("body_sha256", String(64), nullable=True),
    Column("num_media", Integer, nullable=False),
    Column("status_callback", Text, nullable=True),
    Column("api", String(16), nullable=False),
    Column("account_sid", String(64), nullable=True),
    Index("ix_gateway_messages_tenant_created", "tenant", "created_at"),
    Index("ix_gateway_messages_status_created", "status", "created_at", "id"),
    Index("ix_gateway_messages_tenant_sender", "tenant", "sender", "created_at"),
)

decisions = Table(
    "gateway_decisions",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("code", Integer, nullable=True),
    Column("rules", Text, nullable=False),
    Column("clauses", Text, nullable=False),
    Column("message_id", String(34), nullable=True),
    Column("event_id", String(128), nullable=True),
    Column("pack_version", String(64), nullable=False),
    Column("degraded", Boolean, nullable=False),
    Column("shadow", Text, nullable=False, default="", server_default=""),
    Column("shadow_changes", Text, nullable=False, default="", server_default=""),
    Index("ix_gateway_decisions_tenant_at", "tenant", "at", "id"),
    Index(
        "ix_gateway_decisions_shadow_at",
        "at",
        postgresql_where=text("shadow <> ''"),
        sqlite_where=text("shadow <> ''"),
    ),
)

outbox = Table(
    "gateway_outbox",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("message_id", String(34), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("state", String(8), nullable=False),
    Column("last_error", Text, nullable=True),
    Index("ix_gateway_outbox_state_due", "state", "next_attempt_at"),
    Index("ix_gateway_outbox_message", "message_id"),
)

idempotency = Table(
    "gateway_idempotency",
    metadata,
    Column("tenant", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("message_id", String(34), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_gateway_idempotency_created", "created_at"),
)


def _list(items: Sequence[str]) -> str:
    return "," + ",".join(items) + "," if items else ""


def _unlist(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(",") if p)


R = TypeVar("R")


def _row(record: Any, **encoded: Any) -> dict[str, Any]:
    """The columns of a record (a dataclass whose fields are the table's columns), with
    the fields stored in another form given in `encoded`."""
    return {f.name: getattr(record, f.name) for f in fields(record)} | encoded


def _record(cls: type[R], row: Any, **decoded: Any) -> R:
    """A record from a row of its table, with the fields stored in another form given in
    `decoded`."""
    return cls(**({f.name: getattr(row, f.name) for f in fields(cls)} | decoded))  # type: ignore[arg-type]


def _message_row(m: MessageRecord) -> dict[str, Any]:
    return _row(m, rules=_list(m.rules), clauses=_list(m.clauses))


def _message(row: Any) -> MessageRecord:
    return _record(MessageRecord, row, rules=_unlist(row.rules), clauses=_unlist(row.clauses))


def _decision_row(d: DecisionRecord) -> dict[str, Any]:
    return _row(
        d,
        rules=_list(d.rules),
        clauses=_list(d.clauses),
        shadow=_list(d.shadow),
        shadow_changes=_list(d.shadow_changes),
    )


def _decision(row: Any) -> DecisionRecord:
    return _record(
        DecisionRecord,
        row,
        rules=_unlist(row.rules),
        clauses=_unlist(row.clauses),
        degraded=bool(row.degraded),
        shadow=_unlist(row.shadow),
        shadow_changes=_unlist(row.shadow_changes),
    )


def _outbox_row(e: OutboxEntry) -> dict[str, Any]:
    return _row(e, payload=orjson.dumps(dict(e.payload)).decode())


def _entry(row: Any) -> OutboxEntry:
    return _record(OutboxEntry, row, payload=orjson.loads(row.payload) if row.payload else {})


def _key(row: Any) -> IdempotencyEntry:
    return IdempotencyEntry(
        key=row.key,
        request_hash=row.request_hash,
        status=row.status,
        response=bytes(row.response),
        message_id=row.message_id,
        created_at=row.created_at,
    )


class _FileLock:
    """An exclusive lock on a file beside an SQLite database, held for each write
    transaction of the gateway's tables. Several worker processes on one SQLite file
    then queue on the lock and each wakes as soon as the previous commit released it;
    without it they meet SQLite's busy handler, which sleeps 5 to 100 ms between
    tries (the p99 of /v1/messages with two workers was several hundred ms)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread_lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class SqlMessageStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.postgres = db.dialect == "postgresql"
        database = db.engine.url.database
        self._lock: _FileLock | None = None
        if db.dialect == "sqlite" and database and database != ":memory:" and fcntl is not None:
            self._lock = _FileLock(database + ".gateway-lock")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (under the file lock on SQLite)."""
        if self._lock is None:
            with self.db.engine.begin() as conn:
                yield conn
            return
        with self._lock.held(), self.db.engine.begin() as conn:
            yield conn

    # -- the send path ---------------------------------------------------------------

    def accept(self, batch: Sequence[Accept], now: datetime) -> list[Accepted]:
        try:
            with self._write() as conn:
                return self._accept(conn, batch, now)
        except IntegrityError:
            # another worker wrote one of these idempotency keys since we looked:
            # write the batch one by one, so the others are not refused with it
            results: list[Accepted] = []
            for item in batch:
                try:
                    with self._write() as conn:
                        results.extend(self._accept(conn, [item], now))
                except IntegrityError:
                    with self._write() as conn:  # the key is there now
                        results.extend(self._accept(conn, [item], now))
            return results

    def _accept(self, conn: Connection, batch: Sequence[Accept], now: datetime) -> list[Accepted]:
        results: list[Accepted] = []
        rows_m: list[dict[str, Any]] = []
        rows_d: list[dict[str, Any]] = []
        rows_o: list[dict[str, Any]] = []
        rows_k: list[dict[str, Any]] = []
        seen: dict[tuple[str, str], IdempotencyEntry] = {}
        for item in batch:
            key = item.idempotency
            if key is not None:
                earlier = seen.get((item.tenant, key.key)) or self._known_key(
                    conn, item.tenant, key.key, now
                )
                if earlier is not None:
                    same = earlier.request_hash == key.request_hash
                    results.append(Accepted("replay" if same else "conflict", earlier))
                    continue
                seen[(item.tenant, key.key)] = key
                rows_k.append(
                    {
                        "tenant": item.tenant,
                        "key": key.key,
                        "request_hash": key.request_hash,
                        "status": key.status,
                        "response": key.response,
                        "message_id": key.message_id,
                        "created_at": key.created_at,
                    }
                )
            if item.message is not None:
                rows_m.append(_message_row(item.message))
            rows_d.append(_decision_row(item.decision))
            rows_o.extend(_outbox_row(e) for e in item.outbox)
            results.append(Accepted("written"))
        for table, rows in (
            (messages, rows_m),
            (decisions, rows_d),
            (outbox, rows_o),
            (idempotency, rows_k),
        ):
            if rows:
                conn.execute(insert(table), rows)
        return results

    def _known_key(
        self, conn: Connection, tenant: str, key: str, now: datetime
    ) -> IdempotencyEntry | None:
        row = conn.execute(
            select(idempotency).where(idempotency.c.tenant == tenant, idempotency.c.key == key)
        ).one_or_none()
        if row is None:
            return None
        if row.created_at <= now - IDEMPOTENCY_TTL:  # expired: the key may be used again
            conn.execute(
                delete(idempotency).where(idempotency.c.tenant == tenant, idempotency.c.key == key)
            )
            return None
        return _key(row)

    # -- reads -------------------------------------------------------------------------

    def kept(self, tenant: str, key: str, now: datetime) -> IdempotencyEntry | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(idempotency).where(idempotency.c.tenant == tenant, idempotency.c.key == key)
            ).one_or_none()
        if row is None or row.created_at <= now - IDEMPOTENCY_TTL:
            return None
        return _key(row)

    def message(self, tenant: str, message_id: str) -> MessageRecord | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(messages).where(messages.c.tenant == tenant, messages.c.id == message_id)
            ).one_or_none()
        return _message(row) if row is not None else None

    def decisions(self, tenant: str, query: DecisionQuery) -> list[DecisionRecord]:
        c = decisions.c
        where = [c.tenant == tenant]
        if query.verdict is not None:
            where.append(c.verdict == query.verdict)
        if query.kind is not None:
            where.append(c.kind == query.kind)
        if query.rule is not None:
            where.append(c.rules.contains(f",{query.rule},", autoescape=True))
        if query.clause is not None:
            where.append(c.clauses.contains(f",{query.clause},", autoescape=True))
        if query.since is not None:
            where.append(c.at >= query.since)
        if query.until is not None:
            where.append(c.at < query.until)
        if query.after is not None:
            at, ident = query.after
            where.append(or_(c.at < at, and_(c.at == at, c.id < ident)))
        stmt = select(decisions).where(*where).order_by(c.at.desc(), c.id.desc())
        with self.db.engine.connect() as conn:
            rows = conn.execute(stmt.limit(query.limit)).all()
        return [_decision(r) for r in rows]

    def find_messages(self, query: MessageQuery) -> list[MessageRecord]:
        c = messages.c
        where = []
        if query.tenant is not None:
            where.append(c.tenant == query.tenant)
        if query.statuses:
            where.append(c.status.in_(query.statuses))
        if query.sender is not None:
            where.append(c.sender == query.sender)
        if query.rule is not None:
            where.append(c.rules.contains(f",{query.rule},", autoescape=True))
        if query.after is not None:
            # a row-value comparison: PostgreSQL makes it an index condition (the OR form
            # is a filter, read from the start of the queue: 1.6 s at 1M held rows)
            key, after = tuple_(c.created_at, c.id), tuple_(*query.after)
            where.append(key > after if query.oldest_first else key < after)
        order = (c.created_at, c.id) if query.oldest_first else (c.created_at.desc(), c.id.desc())
        stmt = select(messages).where(*where).order_by(*order).limit(query.limit)
        with self.db.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [_message(r) for r in rows]

    def rule_hits(self, since: datetime) -> list[tuple[date, str, int]]:
        c = decisions.c
        day = func.date(c.at)  # PostgreSQL: the UTC day (sessions run in UTC); SQLite: text
        stmt = (
            select(day, c.rules, func.count())
            .where(c.at >= since, c.rules != "")
            .group_by(day, c.rules)
        )
        with self.db.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        counts: dict[tuple[date, str], int] = {}
        for when, rules, n in rows:
            key_day = when if isinstance(when, date) else date.fromisoformat(str(when))
            for rule in _unlist(rules):
                counts[(key_day, rule)] = counts.get((key_day, rule), 0) + int(n)
        return [(d, rule, n) for (d, rule), n in counts.items()]

    def shadow_hits(self, since: datetime) -> list[tuple[date, str, int, int]]:
        c = decisions.c
        day = func.date(c.at)
        stmt = (
            select(day, c.shadow, c.shadow_changes, func.count())
            .where(c.at >= since, c.shadow != "")
            .group_by(day, c.shadow, c.shadow_changes)
        )
        with self.db.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        counts: dict[tuple[date, str], list[int]] = {}
        for when, shadow, changes, n in rows:
            key_day = when if isinstance(when, date) else date.fromisoformat(str(when))
            changed = set(_unlist(changes))
            for rule in _unlist(shadow):
                tally = counts.setdefault((key_day, rule), [0, 0])
                tally[0] += int(n)
                if rule in changed:
                    tally[1] += int(n)
        return [(d, rule, hits, changes) for (d, rule), (hits, changes) in counts.items()]

    def shadow_examples(self, rule: str, since: datetime, limit: int) -> list[DecisionRecord]:
        c = decisions.c
        stmt = (
            select(decisions)
            .where(
                c.at >= since,
                c.shadow != "",
                c.shadow_changes.contains(f",{rule},", autoescape=True),
                c.message_id.is_not(None),
            )
            .order_by(c.at.desc(), c.id.desc())
            .limit(limit)
        )
        with self.db.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [_decision(r) for r in rows]

    def held_entry(self, tenant: str, message_id: str) -> OutboxEntry | None:
        c = outbox.c
        stmt = select(outbox).where(
            c.message_id == message_id, c.tenant == tenant, c.state == "held"
        )
        with self.db.engine.connect() as conn:
            row = conn.execute(stmt.limit(1)).one_or_none()
        return _entry(row) if row is not None else None

    def review(
        self, tenant: str, message_id: str, outcome: Review, now: datetime
    ) -> MessageRecord | None:
        status = "queued" if outcome == "release" else "blocked"
        m = messages.c
        with self._write() as conn:
            # conditional: of two reviewers acting at once, one wins
            done = conn.execute(
                update(messages)
                .where(m.tenant == tenant, m.id == message_id, m.status == "held")
                .values(status=status, updated_at=now)
            )
            if done.rowcount != 1:
                return None
            entry = update(outbox).where(
                outbox.c.message_id == message_id,
                outbox.c.tenant == tenant,
                outbox.c.state == "held",
            )
            if outcome == "release":
                conn.execute(entry.values(state="pending", next_attempt_at=now))
            else:  # a blocked message's body is not kept
                conn.execute(entry.values(state="done", payload="", next_attempt_at=now))
        return self.message(tenant, message_id)

    # -- the delivery worker -------------------------------------------------------------

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxEntry]:
        c = outbox.c
        due = and_(c.state == "pending", c.next_attempt_at <= now)
        stmt = select(outbox).where(due).order_by(c.next_attempt_at, c.id).limit(limit)
        if self.postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        claimed: list[OutboxEntry] = []
        with self._write() as conn:
            for row in conn.execute(stmt).all():
                # conditional: on SQLite another process may have claimed it since the read
                taken = conn.execute(
                    update(outbox)
                    .where(c.id == row.id, due)
                    .values(attempts=c.attempts + 1, next_attempt_at=now + lease)
                )
                if taken.rowcount == 1:
                    entry = _entry(row)
                    claimed.append(
                        OutboxEntry(
                            id=entry.id,
                            tenant=entry.tenant,
                            message_id=entry.message_id,
                            kind=entry.kind,
                            payload=entry.payload,
                            created_at=entry.created_at,
                            next_attempt_at=now + lease,
                            attempts=entry.attempts + 1,
                            state=entry.state,
                            last_error=entry.last_error,
                        )
                    )
        return claimed

    def settle(
        self,
        entry: OutboxEntry,
        now: datetime,
        state: Literal["done", "dead"],
        error: str | None = None,
        status: StatusUpdate | None = None,
        enqueue: Sequence[OutboxEntry] = (),
    ) -> None:
        values: dict[str, Any] = {"state": state, "last_error": error, "next_attempt_at": now}
        if state == "done":
            values["payload"] = ""  # a delivered message's body is not kept
        with self._write() as conn:
            conn.execute(update(outbox).where(outbox.c.id == entry.id).values(**values))
            if status is not None:
                self._set_status(conn, entry.tenant, entry.message_id, status, now)
            if enqueue:
                conn.execute(insert(outbox), [_outbox_row(e) for e in enqueue])

    def reschedule(self, entry: OutboxEntry, next_attempt_at: datetime, error: str) -> None:
        with self._write() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == entry.id, outbox.c.state == "pending")
                .values(next_attempt_at=next_attempt_at, last_error=error[:2000])
            )

    def update_status(
        self,
        tenant: str,
        message_id: str,
        status: StatusUpdate,
        now: datetime,
        enqueue: Sequence[OutboxEntry] = (),
    ) -> MessageRecord | None:
        with self._write() as conn:
            if not self._set_status(conn, tenant, message_id, status, now):
                return None
            if enqueue:
                conn.execute(insert(outbox), [_outbox_row(e) for e in enqueue])
        return self.message(tenant, message_id)

    @staticmethod
    def _set_status(
        conn: Connection, tenant: str, message_id: str, status: StatusUpdate, now: datetime
    ) -> bool:
        done = conn.execute(
            update(messages)
            .where(messages.c.tenant == tenant, messages.c.id == message_id)
            .values(status=status[0], error_code=status[1], updated_at=now)
        )
        return bool(done.rowcount)

    def pending(self) -> int:
        with self.db.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.state == "pending")
            ).scalar_one()
        return int(count)

    def dead_letters(self, tenant: str, limit: int = 100) -> list[OutboxEntry]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(outbox)
                .where(outbox.c.tenant == tenant, outbox.c.state == "dead")
                .order_by(outbox.c.created_at, outbox.c.id)
                .limit(limit)
            ).all()
        return [_entry(r) for r in rows]

    def purge(self, now: datetime) -> int:
        with self._write() as conn:
            done = conn.execute(
                delete(idempotency).where(idempotency.c.created_at <= now - IDEMPOTENCY_TTL)
            )
        return int(done.rowcount)
