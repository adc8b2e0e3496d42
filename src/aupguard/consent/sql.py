"""The consent ledger and do-not-call lists in SQLite or PostgreSQL (migration branch
``consent``).

Reads use SQLAlchemy Core on a pooled connection (no ORM identity map: the
consent check runs for every message). Do-not-call imports are bulk loads:
SQLite ``executemany`` of ``INSERT OR IGNORE``, PostgreSQL ``COPY`` into a
temporary table and one ``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, bindparam, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from aupguard.consent.model import ConsentEvent, ConsentKind, ConsentMethod
from aupguard.store.base import Base, UtcDateTime
from aupguard.store.db import Database

__all__ = ["ConsentEventRow", "DncRow", "SqlConsentStore", "SqlDncStore"]


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


class DncRow(Base):
    __tablename__ = "consent_dnc"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(256))
    added: Mapped[datetime] = mapped_column(UtcDateTime)


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
)


def _event(row: Any) -> ConsentEvent:
    # Rows were validated on the way in: construct without validating again.
    return ConsentEvent.model_construct(
        tenant=row[0],
        scope=row[1],
        recipient=row[2],
        channel=row[3],
        kind=ConsentKind(row[4]),
        at=row[5],
        method=ConsentMethod(row[6]),
        source=row[7],
        wording=row[8],
        expires=row[9],
    )


class SqlConsentStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._history = (
            select(*_COLUMNS)
            .where(_T.c.tenant == bindparam("tenant"), _T.c.recipient == bindparam("recipient"))
            .order_by(_T.c.at, _T.c.id)
        )

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
            }
            for e in events
        ]
        with self.db.engine.begin() as conn:
            conn.execute(insert(ConsentEventRow), rows)

    def history(
        self, tenant: str, recipient: str, until: datetime | None = None
    ) -> list[ConsentEvent]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(self._history, {"tenant": tenant, "recipient": recipient})
            events = [_event(r) for r in rows]
        if until is not None:
            events = [e for e in events if e.at <= until]
        return events

    def export(self, tenant: str) -> Iterator[ConsentEvent]:
        query = select(*_COLUMNS).where(_T.c.tenant == tenant).order_by(_T.c.recipient, _T.c.at)
        with self.db.engine.connect() as conn:
            for row in conn.execute(query):
                yield _event(row)


_D = DncRow.__table__


class SqlDncStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._listed = select(_D.c.number).where(
            _D.c.tenant == bindparam("tenant"), _D.c.number == bindparam("number")
        )

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
                return int(added)
            text = stamp.strftime("%Y-%m-%d %H:%M:%S.%f") if stamp is not None else None
            result = conn.exec_driver_sql(
                "INSERT OR IGNORE INTO consent_dnc (tenant, number, source, added) "
                "VALUES (?, ?, ?, ?)",
                [(tenant, n, source, text) for n in numbers],
            )
            return int(result.rowcount)

    def listed(self, tenant: str, number: str) -> bool:
        with self.db.engine.connect() as conn:
            found = conn.execute(self._listed, {"tenant": tenant, "number": number}).first()
        return found is not None

    def count(self, tenant: str) -> int:
        with self.db.engine.connect() as conn:
            value = conn.execute(
                select(func.count()).select_from(_D).where(_D.c.tenant == tenant)
            ).scalar_one()
        return int(value)
