"""The API key store contract, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aupguard.actors import Role
from aupguard.api.keys import ApiKey, KeyStore, MemoryKeyStore
from aupguard.api.keys_sql import SqlKeyStore
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    if request.param == "memory":
        yield MemoryKeyStore()
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'keys.sqlite'}")
        upgrade(db)
        yield SqlKeyStore(db)
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        yield SqlKeyStore(db)
        db.dispose()


def key(key_id: str, tenant: str | None, *roles: Role, at: datetime = T0) -> ApiKey:
    return ApiKey(
        id=key_id,
        tenant=tenant,
        roles=frozenset(roles or ((Role.SENDER,) if tenant else (Role.REVIEWER,))),
        name=f"{key_id} of {tenant}",
        digest=bytes(range(32)),
        created_at=at,
    )


def test_a_key_reads_back_as_written(store: KeyStore) -> None:
    written = key("a" * 16, "acme", Role.SENDER, Role.VIEWER)
    store.add(written)
    assert store.get(written.id) == written
    assert store.find("acme", written.id) == written
    assert store.get("b" * 16) is None


def test_staff_keys_have_no_tenant(store: KeyStore) -> None:
    staff = key("s" * 16, None, Role.ADMIN, Role.LEGAL)
    store.add(staff)
    assert store.find(None, staff.id) == staff
    assert store.list(None) == [staff]
    assert store.find("acme", staff.id) is None
    assert store.list("acme") == []


def test_a_tenant_never_sees_another_tenants_keys(store: KeyStore) -> None:
    acme = key("a" * 16, "acme")
    globex = key("g" * 16, "globex")
    staff = key("s" * 16, None)
    for k in (acme, globex, staff):
        store.add(k)
    assert store.list("acme") == [acme]
    assert store.list("globex") == [globex]
    assert store.find("acme", globex.id) is None
    assert store.find("globex", acme.id) is None
    assert store.find(None, acme.id) is None
    # updates across tenants change nothing
    assert store.update("acme", globex.id, revoked_at=T0) is None
    assert store.update(None, acme.id, revoked_at=T0) is None
    assert store.get(globex.id) == globex
    assert store.get(acme.id) == acme


def test_list_is_oldest_first(store: KeyStore) -> None:
    later = key("b" * 16, "acme", at=T0 + timedelta(minutes=1))
    earlier = key("c" * 16, "acme", at=T0)
    store.add(later)
    store.add(earlier)
    assert [k.id for k in store.list("acme")] == [earlier.id, later.id]


def test_revocation_and_expiry_are_recorded(store: KeyStore) -> None:
    k = key("a" * 16, "acme")
    store.add(k)
    expiring = store.update("acme", k.id, expires_at=T0 + timedelta(hours=1))
    assert expiring is not None
    assert expiring.expires_at == T0 + timedelta(hours=1)
    assert expiring.revoked_at is None
    revoked = store.update("acme", k.id, revoked_at=T0 + timedelta(minutes=5))
    assert revoked is not None
    assert revoked.revoked_at == T0 + timedelta(minutes=5)
    assert revoked.expires_at == T0 + timedelta(hours=1)
    assert store.get(k.id) == revoked
    assert not revoked.active(T0 + timedelta(minutes=6))
    assert revoked.active(T0 + timedelta(minutes=4))


def test_key_ids_are_unique(store: KeyStore) -> None:
    store.add(key("a" * 16, "acme"))
    with pytest.raises(Exception):  # noqa: PT011 - the memory store and the SQL ones raise their own
        store.add(key("a" * 16, "globex"))
    assert store.list("globex") == []
