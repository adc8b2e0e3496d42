"""The console user and session store contract, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aupguard.actors import Role
from aupguard.console.store import (
    ConsoleUser,
    DuplicateUser,
    MemorySessionStore,
    MemoryUserStore,
    SessionRecord,
    SessionStore,
    Stage,
    UserStore,
)
from aupguard.console.store_sql import SqlSessionStore, SqlUserStore
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[UserStore, SessionStore]]:
    if request.param == "memory":
        yield MemoryUserStore(), MemorySessionStore()
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'console.sqlite'}")
        upgrade(db)
        yield SqlUserStore(db), SqlSessionStore(db)
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        yield SqlUserStore(db), SqlSessionStore(db)
        db.dispose()


@pytest.fixture
def users(stores: tuple[UserStore, SessionStore]) -> UserStore:
    return stores[0]


@pytest.fixture
def sessions(stores: tuple[UserStore, SessionStore]) -> SessionStore:
    return stores[1]


def user(user_id: str, name: str, tenant: str | None, *roles: Role) -> ConsoleUser:
    return ConsoleUser(
        id=user_id,
        name=name,
        tenant=tenant,
        roles=frozenset(roles or ((Role.VIEWER,) if tenant else (Role.REVIEWER,))),
        password_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        totp_secret="JBSWY3DPEHPK3PXP",
        created_at=T0,
    )


def test_a_user_reads_back_as_written(users: UserStore) -> None:
    written = replace(
        user("u1", "alice", "acme", Role.TENANT_ADMIN, Role.SENDER),
        totp_confirmed=True,
        totp_last_step=42,
        locked_until=T0 + timedelta(minutes=1),
        last_sign_in_at=T0 + timedelta(days=1),
    )
    users.add(written)
    assert users.by_name("alice") == written
    assert users.by_name("ALICE") == written
    assert users.find("acme", "u1") == written
    assert users.by_name("bob") is None


def test_names_are_unique_across_tenants(users: UserStore) -> None:
    users.add(user("u1", "alice", "acme"))
    with pytest.raises(DuplicateUser):
        users.add(user("u2", "alice", "globex"))
    assert users.in_tenant("globex") == []


def test_a_tenant_never_sees_another_tenants_users(users: UserStore) -> None:
    acme = user("u1", "alice", "acme")
    globex = user("u2", "bob", "globex")
    staff = user("u3", "carol", None, Role.ADMIN)
    for u in (acme, globex, staff):
        users.add(u)
    assert users.in_tenant("acme") == [acme]
    assert users.in_tenant(None) == [staff]
    assert users.find("acme", globex.id) is None
    assert users.find(None, acme.id) is None
    assert users.find("acme", staff.id) is None
    # writes across tenants change nothing
    assert not users.save(replace(globex, tenant="acme", roles=frozenset({Role.TENANT_ADMIN})))
    assert users.record_failure("acme", globex.id) == 0
    assert not users.use_totp_step("acme", globex.id, 10)
    users.set_recovery_codes("acme", globex.id, ["a" * 64])
    assert users.recovery_codes_left("globex", globex.id) == 0
    assert users.find("globex", globex.id) == globex


def test_save_replaces_the_record(users: UserStore) -> None:
    u = user("u1", "alice", None, Role.REVIEWER)
    users.add(u)
    changed = replace(u, roles=frozenset({Role.ADMIN, Role.LEGAL}), revoked_at=T0)
    assert users.save(changed)
    assert users.find(None, "u1") == changed
    assert not users.save(user("nobody", "nobody", None))


def test_failures_count_up(users: UserStore) -> None:
    users.add(user("u1", "alice", "acme"))
    assert [users.record_failure("acme", "u1") for _ in range(3)] == [1, 2, 3]
    found = users.find("acme", "u1")
    assert found is not None
    assert found.failed_attempts == 3


def test_a_totp_step_is_accepted_once(users: UserStore) -> None:
    users.add(user("u1", "alice", "acme"))
    assert users.use_totp_step("acme", "u1", 100)
    assert not users.use_totp_step("acme", "u1", 100)
    assert not users.use_totp_step("acme", "u1", 99)
    assert users.use_totp_step("acme", "u1", 101)


def test_recovery_codes_are_single_use(users: UserStore) -> None:
    users.add(user("u1", "alice", None))
    users.add(user("u2", "bob", None))
    users.set_recovery_codes(None, "u1", ["a" * 64, "b" * 64])
    assert users.recovery_codes_left(None, "u1") == 2
    assert not users.use_recovery_code(None, "u2", "a" * 64)  # another user's code
    assert users.use_recovery_code(None, "u1", "a" * 64)
    assert not users.use_recovery_code(None, "u1", "a" * 64)
    assert users.recovery_codes_left(None, "u1") == 1
    users.set_recovery_codes(None, "u1", [])
    assert not users.use_recovery_code(None, "u1", "b" * 64)


def session(digest: str, user_id: str | None = None, tenant: str | None = None) -> SessionRecord:
    return SessionRecord(
        digest=digest,
        stage=Stage.SIGNED_IN if user_id else Stage.ANONYMOUS,
        created_at=T0,
        last_seen_at=T0,
        expires_at=T0 + timedelta(hours=12),
        user_id=user_id,
        tenant=tenant,
    )


def test_a_session_reads_back_and_is_touched(sessions: SessionStore) -> None:
    record = session("d" * 64, "u1", "acme")
    sessions.add(record)
    assert sessions.get("d" * 64) == record
    sessions.touch("d" * 64, T0 + timedelta(minutes=5))
    assert sessions.get("d" * 64) == replace(record, last_seen_at=T0 + timedelta(minutes=5))
    sessions.delete("d" * 64)
    assert sessions.get("d" * 64) is None


def test_ending_a_users_sessions_stays_in_its_tenant(sessions: SessionStore) -> None:
    sessions.add(session("a" * 64, "u1", "acme"))
    sessions.add(session("b" * 64, "u1", "acme"))
    sessions.add(session("c" * 64, "u1", "globex"))  # same id in another tenant
    sessions.add(session("e" * 64))
    assert sessions.delete_user("globex", "u1") == 1
    assert sessions.get("a" * 64) is not None
    assert sessions.delete_user("acme", "u1") == 2
    assert sessions.get("a" * 64) is None
    assert sessions.get("e" * 64) is not None


def test_purge_drops_expired_sessions(sessions: SessionStore) -> None:
    sessions.add(session("a" * 64))
    sessions.add(replace(session("b" * 64), expires_at=T0 + timedelta(hours=24)))
    assert sessions.purge(T0 + timedelta(hours=13)) == 1
    assert sessions.get("a" * 64) is None
    assert sessions.get("b" * 64) is not None


def test_password_age_and_history_read_back(users: UserStore) -> None:
    written = replace(
        user("u1", "alice", "acme"),
        password_changed_at=T0 + timedelta(days=3),
        password_history=("$argon2id$old1", "$argon2id$old2"),
    )
    users.add(written)
    assert users.find("acme", "u1") == written
    changed = replace(written, password_history=("$argon2id$old0", "$argon2id$old1"))
    assert users.save(changed)
    assert users.by_name("alice") == changed


def test_a_users_sessions_with_their_addresses_stay_in_its_tenant(
    sessions: SessionStore,
) -> None:
    here = replace(session("a" * 64, "u1", "acme"), ip="198.51.100.7")
    there = replace(session("b" * 64, "u1", "acme"), ip="2001:db8::1")
    sessions.add(here)
    sessions.add(there)
    sessions.add(replace(session("c" * 64, "u1", "globex"), ip="203.0.113.1"))
    sessions.add(session("e" * 64))
    assert sorted(sessions.of_user("acme", "u1"), key=lambda r: r.digest) == [here, there]
    assert [r.ip for r in sessions.of_user("globex", "u1")] == ["203.0.113.1"]
    assert sessions.of_user(None, "u1") == []
