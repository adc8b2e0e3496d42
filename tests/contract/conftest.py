"""Fixtures for the shared store contract suites.

`sql_url` is parametrised over SQLite (a fresh file) and PostgreSQL (a fresh
database on 127.0.0.1:5432); `database` is a migrated `Database` on it. A store
suite parametrises over "memory" as well by asking for `backend`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database, redis_prefix


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def database(sql_url: str) -> Iterator[Database]:
    db = Database(sql_url)
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def redis_keys() -> Iterator[tuple[redis.Redis, str]]:
    """A Redis client and a key prefix of this test's own (its keys are deleted afterwards)."""
    with redis_prefix() as pair:
        yield pair
