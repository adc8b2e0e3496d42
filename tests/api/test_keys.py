"""API keys: format, digests, authorization of management, rotation, revocation, cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aupguard.actors import Actor, Forbidden, Role
from aupguard.api.keys import KeyManager, KeyNotFound, MemoryKeyStore, parse_key, roles_for

STAFF_ADMIN = Actor("ops", frozenset({Role.ADMIN}))
REVIEWER = Actor("rev", frozenset({Role.REVIEWER}))
ACME_ADMIN = Actor("acme-admin", frozenset({Role.TENANT_ADMIN}), tenant="acme")
ACME_SENDER = Actor("acme-sender", frozenset({Role.SENDER}), tenant="acme")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def manager(cache_seconds: float = 0.0) -> tuple[KeyManager, Clock]:
    clock = Clock()
    return KeyManager(MemoryKeyStore(), b"pepper", cache_seconds=cache_seconds, clock=clock), clock


def test_an_issued_key_authenticates_as_its_tenant_with_its_roles() -> None:
    keys, _ = manager()
    issued = keys.issue(ACME_ADMIN, "acme", ["send", "read"], "app")
    actor = keys.authenticate(issued.secret)
    assert actor == Actor(f"key:{issued.key.id}", frozenset({Role.SENDER, Role.VIEWER}), "acme")
    assert issued.secret.startswith(f"aupg_{issued.key.id}_")


def test_the_secret_is_not_stored() -> None:
    keys, _ = manager()
    issued = keys.issue(STAFF_ADMIN, "acme", ["send"])
    stored = keys.store.get(issued.key.id)
    assert stored is not None
    secret = issued.secret.split("_", 2)[2]
    assert secret.encode() not in stored.digest
    assert secret not in repr(stored)
    assert len(stored.digest) == 32


def test_the_pepper_keys_the_digest() -> None:
    store = MemoryKeyStore()
    issued = KeyManager(store, b"one", cache_seconds=0).issue(STAFF_ADMIN, "acme", ["send"])
    assert KeyManager(store, b"two", cache_seconds=0).authenticate(issued.secret) is None
    assert KeyManager(store, b"one", cache_seconds=0).authenticate(issued.secret) is not None


def test_staff_keys_carry_staff_roles() -> None:
    keys, _ = manager()
    issued = keys.issue(STAFF_ADMIN, None, ["reviewer", "legal"])
    actor = keys.authenticate(issued.secret)
    assert actor is not None
    assert actor.is_staff
    assert actor.roles == {Role.REVIEWER, Role.LEGAL}


@pytest.mark.parametrize(
    ("tenant", "scopes", "message"),
    [
        ("acme", ["reviewer"], "unknown scope"),
        (None, ["send"], "unknown staff role"),
        ("acme", [], "at least one scope"),
        ("ac me", ["send"], "tenant id"),
    ],
)
def test_bad_scopes_and_tenants_are_refused(
    tenant: str | None, scopes: list[str], message: str
) -> None:
    keys, _ = manager()
    with pytest.raises(ValueError, match=message):
        keys.issue(STAFF_ADMIN, tenant, scopes)


@pytest.mark.parametrize(
    ("actor", "tenant"),
    [
        (ACME_SENDER, "acme"),  # not an admin
        (ACME_ADMIN, "globex"),  # another tenant
        (ACME_ADMIN, None),  # staff keys
        (REVIEWER, "acme"),  # staff without the admin role
    ],
)
def test_who_may_manage_keys(actor: Actor, tenant: str | None) -> None:
    keys, _ = manager()
    existing = keys.issue(STAFF_ADMIN, tenant, ["admin"])
    with pytest.raises(Forbidden):
        keys.issue(actor, tenant, ["admin"] if tenant else ["reviewer"])
    with pytest.raises(Forbidden):
        keys.list(actor, tenant)
    with pytest.raises(Forbidden):
        keys.revoke(actor, tenant, existing.key.id)
    with pytest.raises(Forbidden):
        keys.rotate(actor, tenant, existing.key.id)
    assert keys.authenticate(existing.secret) is not None


def test_another_tenants_key_id_is_not_found() -> None:
    keys, _ = manager()
    globex = keys.issue(STAFF_ADMIN, "globex", ["send"])
    with pytest.raises(KeyNotFound):
        keys.revoke(ACME_ADMIN, "acme", globex.key.id)
    assert keys.authenticate(globex.secret) is not None


def test_rotation_replaces_the_key_now_or_after_the_grace() -> None:
    keys, clock = manager()
    first = keys.issue(ACME_ADMIN, "acme", ["send"], "app")
    second = keys.rotate(ACME_ADMIN, "acme", first.key.id)
    assert keys.authenticate(first.secret) is None
    assert keys.authenticate(second.secret) is not None
    assert second.key.roles == first.key.roles
    assert second.key.name == "app"

    third = keys.rotate(ACME_ADMIN, "acme", second.key.id, grace=timedelta(minutes=10))
    assert keys.authenticate(second.secret) is not None
    assert keys.authenticate(third.secret) is not None
    clock.now += timedelta(minutes=11)
    assert keys.authenticate(second.secret) is None
    assert keys.authenticate(third.secret) is not None
    with pytest.raises(ValueError, match="expired"):
        keys.rotate(ACME_ADMIN, "acme", second.key.id)


def test_revocation_reaches_a_caching_worker_within_the_cache_time() -> None:
    store = MemoryKeyStore()
    here = KeyManager(store, b"p", cache_seconds=0.2)
    other = KeyManager(store, b"p", cache_seconds=0.2)  # another worker, same database
    issued = here.issue(STAFF_ADMIN, "acme", ["send"])
    assert other.authenticate(issued.secret) is not None
    here.revoke(STAFF_ADMIN, "acme", issued.key.id)
    assert here.authenticate(issued.secret) is None  # the revoking worker: at once
    import time

    time.sleep(0.3)
    assert other.authenticate(issued.secret) is None


def test_the_cache_answers_without_the_store() -> None:
    keys, _ = manager(cache_seconds=60)
    issued = keys.issue(STAFF_ADMIN, "acme", ["send"])
    assert keys.cached(issued.secret) is False  # not seen yet
    assert keys.authenticate(issued.secret) is not None
    assert keys.cached(issued.secret) == keys.authenticate(issued.secret)
    wrong = issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")
    assert keys.cached(wrong) is None


def test_roles_for_scopes() -> None:
    assert roles_for("t", ["read", " SEND "]) == {Role.VIEWER, Role.SENDER}
    assert roles_for(None, ["admin"]) == {Role.ADMIN}


@given(st.text(max_size=200))
def test_parse_key_never_fails_on_garbage(text: str) -> None:
    parsed = parse_key(text)
    if parsed is not None:
        key_id, secret = parsed
        assert text == f"aupg_{key_id}_{secret}"
        assert len(key_id) == 16


@given(st.binary(min_size=1, max_size=64))
def test_authenticate_refuses_any_forgery(noise: bytes) -> None:
    keys, _ = manager()
    issued = keys.issue(STAFF_ADMIN, "acme", ["send"])
    forged = f"aupg_{issued.key.id}_{noise.hex()}"
    assert keys.authenticate(forged) is None
