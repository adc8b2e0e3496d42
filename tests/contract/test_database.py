"""The storage plumbing itself, on SQLite and real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import MetaData, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aupguard.store.base import NAMING, TenantMixin, UtcDateTime
from aupguard.store.db import Database, normalise_url
from aupguard.store.migrate import current_heads, script_heads


class _TestBase(DeclarativeBase):
    """Kept apart from the application's metadata, so migrations never see it."""

    metadata = MetaData(naming_convention=NAMING)


class _Probe(TenantMixin, _TestBase):
    __tablename__ = "test_probe"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(String(50))


def test_migrations_reach_every_head(database: Database) -> None:
    assert current_heads(database) == script_heads()
    assert script_heads()


def test_sqlite_runs_in_wal_with_full_sync(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.sqlite")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_times_come_back_aware_and_in_utc(database: Database) -> None:
    _Probe.__table__.create(database.engine)  # type: ignore[attr-defined]
    paris = timezone(timedelta(hours=1))
    with database.transaction() as session:
        session.add(_Probe(tenant="t1", at=datetime(2026, 3, 1, 9, 0, tzinfo=paris), note="x"))
    with database.transaction() as session:
        row = session.scalars(select(_Probe)).one()
    assert row.at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert row.at.tzinfo is not None


def test_a_failed_transaction_writes_nothing(database: Database) -> None:
    _Probe.__table__.create(database.engine)  # type: ignore[attr-defined]

    def fail_midway() -> None:
        with database.transaction() as session:
            session.add(_Probe(tenant="t1", at=datetime.now(UTC), note="x"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with database.transaction() as session:
        assert session.scalars(select(_Probe)).all() == []


def test_naive_datetimes_are_refused(database: Database) -> None:
    _Probe.__table__.create(database.engine)  # type: ignore[attr-defined]

    def store_naive() -> None:
        with database.transaction() as session:
            session.add(_Probe(tenant="t1", at=datetime(2026, 1, 1), note="x"))

    with pytest.raises(Exception, match="naive"):
        store_naive()


def test_postgres_urls_get_the_psycopg_driver() -> None:
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"
