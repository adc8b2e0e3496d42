"""Real PostgreSQL and Redis for the tests: a fresh database and key prefix per run.

The suite never skips a store test because a service is down: `make test`
starts the services first (scripts/services.sh), and a missing service fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

PG_ADMIN = os.environ.get("AUPGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AUPGUARD_TEST_REDIS", "redis://127.0.0.1:6379/0")


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a database of our own on the local server; drop it afterwards."""
    name = f"aupguard_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN.rsplit("/", 1)[0]
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_prefix() -> Iterator[tuple[redis.Redis, str]]:
    """A Redis client and a key prefix no other run uses; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"aupguard-test:{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


class FakeClock:
    """A clock for stores that take one (epoch seconds); tests move it by hand."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def aupguard_command() -> list[str]:
    """The installed `aupguard` command of this interpreter's environment."""
    found = shutil.which("aupguard", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "aupguard.cli"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
