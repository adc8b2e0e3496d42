"""The consent ledger and do-not-call lists in SQLite or PostgreSQL (migration branch
``consent``).

Every write also gives the tenant's row in ``consent_versions`` a new random
version, in the same transaction; `versions` reads them in one query, so a
worker can keep what it read and know, with that one read, whether it is still
current (`aupguard.consent.cache`).

The consent check runs for every message, so its two reads (the recipient's
events, the do-not-call listing) go straight to the driver on a connection
each thread keeps (autocommit: every read sees what is committed), with the
SQL prepared once; writes go through SQLAlchemy transactions. Do-not-call
imports are bulk loads: SQLite ``executemany`` of ``INSERT OR IGNORE``,
PostgreSQL ``COPY`` into a temporary table and one ``INSERT ... ON CONFLICT
DO NOTHING``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Index,
    Integer,
    String,
    Text,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import NullPool

from aupguard.consent.model import ConsentEvent, ConsentKind, ConsentMethod
from aupguard.consent.store import ConsentStats, DncEntry
from aupguard.store.base import Base, UtcDateTime
from aupguard.store.db import Database

__all__ = ["ConsentEventRow", "ConsentVersionRow", "DncRow", "SqlConsentStore", "SqlDncStore"]


class ConsentEventRow(Base):
    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_lookup", "tenant", "recipient", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(160))
    recipient: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    method: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(256))
    wording: Mapped[str] = mapped_column(Text)
    expires: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    age_verified: Mapped[bool] = mapped_column(Boolean, default=False)


class DncRow(Base):
    __tablename__ = "consent_dnc"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(256))
    added: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsentVersionRow(Base):
    """A tenant's consent version: a new random number at every write of its ledger or
    do-not-call list (random, not a counter, so that a restored or recreated database
    cannot give an old number back)."""

    __tablename__ = "consent_versions"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


def bump_versions(conn: Connection, tenants: Iterable[str]) -> None:
    """Give each tenant a new consent version, inside the caller's transaction."""
    rows = [{"tenant": t, "version": secrets.randbits(62) + 1} for t in sorted(set(tenants))]
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(ConsentVersionRow)
        conn.execute(
            pg.on_conflict_do_update(
                index_elements=["tenant"], set_={"version": pg.excluded.version}
            ),
            rows,
        )
    else:
        lite = sqlite.insert(ConsentVersionRow)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=["tenant"], set_={"version": lite.excluded.version}
            ),
            rows,
        )


_VERSIONS_SQL = {
    1: "SELECT tenant, version FROM consent_versions WHERE tenant = ?",
    2: "SELECT tenant, version FROM consent_versions WHERE tenant IN (?, ?)",
}


_T = ConsentEventRow.__table__
_COLUMNS = (
    _T.c.tenant,
    _T.c.scope,
    _T.c.recipient,
    _T.c.channel,
    _T.c.kind,
    _T.c.at,
    _T.c.method,
    _T.c.source,
    _T.c.wording,
    _T.c.expires,
    _T.c.age_verified,
)


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite through the bare driver
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class _Reader:
    """One driver connection per thread for the hot reads (autocommit).

    The connections come from an engine of their own without a pool, so that
    however many threads read, they never hold the application's pool."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.marker = "?" if db.dialect == "sqlite" else "%s"
        self.engine = create_engine(db.url, poolclass=NullPool)
        if db.dialect == "sqlite":
            event.listen(self.engine, "connect", _busy_timeout)
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def sql(self, text: str) -> str:
        return text.replace("?", self.marker)

    def cursor(self) -> Any:
        raw = getattr(self._local, "raw", None)
        if raw is None:
            proxy = self.engine.raw_connection()
            raw = proxy.driver_connection
            if self.db.dialect == "postgresql":
                assert raw is not None
                raw.autocommit = True
            self._local.proxy, self._local.raw = proxy, raw
            with self._lock:
                self._all.append(proxy)
        assert raw is not None
        return raw.cursor()

    def close(self) -> None:
        with self._lock:
            for proxy in self._all:
                proxy.close()
            self._all.clear()
        self._local = threading.local()
        self.engine.dispose()


_HISTORY_SQL = (
    "SELECT tenant, scope, recipient, channel, kind, at, method, source, wording, expires, "
    "age_verified "
    "FROM consent_events WHERE tenant = ? AND recipient = ? ORDER BY at, id"
)


_FIELDS = frozenset(ConsentEvent.model_fields)
_KINDS = {k.value: k for k in ConsentKind}
_METHODS = {m.value: m for m in ConsentMethod}


def _event(row: Any) -> ConsentEvent:
    """A ledger row as an event. Rows were validated on the way in, so the model is
    filled without validating again (what `model_construct` does, minus its overhead:
    this runs for every message)."""
    event = ConsentEvent.__new__(ConsentEvent)
    values = {
        "tenant": row[0],
        "scope": row[1],
        "recipient": row[2],
        "channel": row[3],
        "kind": _KINDS[row[4]],
        "at": _utc(row[5]),
        "method": _METHODS[row[6]],
        "source": row[7],
        "wording": row[8],
        "expires": _utc(row[9]) if row[9] is not None else None,
        "age_verified": bool(row[10]),
    }
    object.__setattr__(event, "__dict__", values)
    object.__setattr__(event, "__pydantic_fields_set__", set(_FIELDS))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


class SqlConsentStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._reader = _Reader(db)
        self._history = self._reader.sql(_HISTORY_SQL)
        self._versions = {n: self._reader.sql(q) for n, q in _VERSIONS_SQL.items()}

    def close(self) -> None:
        """Give back the connections kept for reads (before `Database.dispose`)."""
        self._reader.close()

    def append(self, events: Sequence[ConsentEvent]) -> None:
        if not events:
            return
        rows = [
            {
                "tenant": e.tenant,
                "scope": e.scope,
                "recipient": e.recipient,
                "channel": e.channel,
                "kind": e.kind.value,
                "at": e.at,
                "method": e.method.value,
                "source": e.source,
                "wording": e.wording,
                "expires": e.expires,
                "age_verified": e.age_verified,
            }
            for e in events
        ]
        with self.db.engine.begin() as conn:
            conn.execute(insert(ConsentEventRow), rows)
            bump_versions(conn, (e.tenant for e in events))

    def versions(self, tenants: tuple[str, ...]) -> tuple[int, ...]:
        """The consent version of each tenant (0: never written), in one query of what
        is committed. Ledger and do-not-call writes both change it."""
        sql = self._versions.get(len(tenants))
        if sql is None:
            raise ValueError("versions are read for one or two tenants at a time")
        cursor = self._reader.cursor()
        try:
            cursor.execute(sql, tenants)
            found = dict(cursor.fetchall())
        finally:
            cursor.close()
        return tuple(int(found.get(t, 0)) for t in tenants)

    def history(
        self, tenant: str, recipient: str, until: datetime | None = None
    ) -> list[ConsentEvent]:
        cursor = self._reader.cursor()
        try:
            cursor.execute(self._history, (tenant, recipient))
            events = [_event(r) for r in cursor.fetchall()]
        finally:
            cursor.close()
        if until is not None:
            events = [e for e in events if e.at <= until]
        return events

    def export(self, tenant: str) -> Iterator[ConsentEvent]:
        query = select(*_COLUMNS).where(_T.c.tenant == tenant).order_by(_T.c.recipient, _T.c.at)
        with self.db.engine.connect() as conn:
            for row in conn.execute(query):
                yield _event(row)

    def statistics(self, tenant: str, since: datetime, now: datetime) -> ConsentStats:
        """One statement: the period's events grouped by kind, method and channel, and
        (a row of its own) the count of recipients whose latest opt-in/opt-out is an
        opt-out, from the per-recipient latest times."""
        c = _T.c
        period = (
            select(c.kind, c.method, c.channel, func.count())
            .where(c.tenant == tenant, c.at >= since, c.at <= now)
            .group_by(c.kind, c.method, c.channel)
        )
        latest = (
            select(
                func.max(case((c.kind == "opt_out", c.at))).label("out"),
                func.max(case((c.kind == "opt_in", c.at))).label("opt_in"),
            )
            .where(c.tenant == tenant, c.at <= now)
            .group_by(c.recipient)
            .subquery()
        )
        opted_out = select(literal("*opted_out"), literal(""), literal(""), func.count()).where(
            latest.c.out.is_not(None),
            or_(latest.c.opt_in.is_(None), latest.c.out >= latest.c.opt_in),
        )
        events: dict[tuple[str, str, str], int] = {}
        out = 0
        with self.db.engine.connect() as conn:
            for kind, method, channel, n in conn.execute(union_all(period, opted_out)):
                if kind == "*opted_out":
                    out = int(n)
                else:
                    events[(kind, method, channel)] = int(n)
        return ConsentStats(events, out)


_D = DncRow.__table__


class SqlDncStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._reader = _Reader(db)
        self._one = self._reader.sql(
            "SELECT 1 FROM consent_dnc WHERE tenant = ? AND number = ? LIMIT 1"
        )
        self._two = self._reader.sql(
            "SELECT 1 FROM consent_dnc WHERE tenant IN (?, ?) AND number = ? LIMIT 1"
        )

    def close(self) -> None:
        self._reader.close()

    def add(self, tenant: str, numbers: Sequence[str], source: str, at: datetime) -> int:
        if not numbers:
            return 0
        stamp = UtcDateTime().process_bind_param(at, self.db.engine.dialect)
        with self.db.engine.begin() as conn:
            if self.db.dialect == "postgresql":
                raw = conn.connection.driver_connection
                assert raw is not None
                with raw.cursor() as cursor:
                    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS consent_dnc_load (number text)")
                    cursor.execute("TRUNCATE consent_dnc_load")
                    with cursor.copy("COPY consent_dnc_load (number) FROM STDIN") as copy:
                        for number in numbers:
                            copy.write_row((number,))
                    cursor.execute(
                        "INSERT INTO consent_dnc (tenant, number, source, added) "
                        "SELECT DISTINCT %s, number, %s, %s::timestamptz FROM consent_dnc_load "
                        "ON CONFLICT DO NOTHING",
                        (tenant, source, stamp),
                    )
                    added = cursor.rowcount
                    cursor.execute("TRUNCATE consent_dnc_load")
                bump_versions(conn, [tenant])
                return int(added)
            text = stamp.strftime("%Y-%m-%d %H:%M:%S.%f") if stamp is not None else None
            result = conn.exec_driver_sql(
                "INSERT OR IGNORE INTO consent_dnc (tenant, number, source, added) "
                "VALUES (?, ?, ?, ?)",
                [(tenant, n, source, text) for n in numbers],
            )
            bump_versions(conn, [tenant])
            return int(result.rowcount)

    def remove(self, tenant: str, numbers: Sequence[str]) -> int:
        if not numbers:
            return 0
        with self.db.engine.begin() as conn:
            result = conn.execute(
                delete(DncRow).where(_D.c.tenant == tenant, _D.c.number.in_(sorted(set(numbers))))
            )
            bump_versions(conn, [tenant])
            return int(result.rowcount)

    def page(self, tenant: str, after: str | None, limit: int) -> list[DncEntry]:
        query = select(_D.c.number, _D.c.source, _D.c.added).where(_D.c.tenant == tenant)
        if after is not None:
            query = query.where(_D.c.number > after)
        with self.db.engine.connect() as conn:
            rows = conn.execute(query.order_by(_D.c.number).limit(limit)).all()
        return [DncEntry(r.number, r.source, _utc(r.added)) for r in rows]

    def listed(self, tenant: str, number: str) -> bool:
        return self._found(self._one, (tenant, number))

    def listed_in(self, tenants: tuple[str, str], number: str) -> bool:
        return self._found(self._two, (*tenants, number))

    def _found(self, sql: str, params: tuple[str, ...]) -> bool:
        cursor = self._reader.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchone() is not None
        finally:
            cursor.close()

    def count(self, tenant: str) -> int:
        with self.db.engine.connect() as conn:
            value = conn.execute(
                select(func.count()).select_from(_D).where(_D.c.tenant == tenant)
            ).scalar_one()
        return int(value)
