"""API keys: issued once, stored as a keyed digest, resolved to an `Actor`.

A key reads ``aupg_<key id>_<secret>``. The key id is public (it names the key
in listings, logs and the CLI); the secret is 32 random bytes, shown once when
the key is issued and never stored: the store keeps HMAC-SHA256(pepper, secret).
Because the secret is random and long, a slow password hash would add nothing
but latency on every request (see docs/benchmarks.md, "HTTP"): the stored
digest is looked up by key id and compared in constant time.

Tenant keys carry scopes, each granting one tenant role: ``read`` -> viewer,
``send`` -> sender, ``admin`` -> tenant_admin. Staff keys belong to no tenant
and carry staff roles (reviewer, admin, legal) for the staff endpoints.

Who may manage keys is decided here, on the `Actor`: a tenant's admin manages
that tenant's keys; platform staff with the admin role manage any tenant's keys
and the staff keys.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from aupguard.actors import STAFF_ROLES, Actor, Role, require, require_tenant

__all__ = [
    "SCOPE_ROLES",
    "ApiKey",
    "IssuedKey",
    "KeyManager",
    "KeyNotFound",
    "KeyStore",
    "MemoryKeyStore",
    "Scope",
    "digest_secret",
    "parse_key",
]

PREFIX = "aupg"
ALGORITHM = "hmac-sha256"


class Scope(StrEnum):
    READ = "read"
    SEND = "send"
    ADMIN = "admin"


SCOPE_ROLES: dict[Scope, Role] = {
    Scope.READ: Role.VIEWER,
    Scope.SEND: Role.SENDER,
    Scope.ADMIN: Role.TENANT_ADMIN,
}
ROLE_SCOPES = {role: scope for scope, role in SCOPE_ROLES.items()}


class KeyNotFound(LookupError):
    """No such key in the tenant asked for (a key of another tenant is not found either)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key {key_id!r}")
        self.key_id = key_id


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant: str | None
    """The tenant the key acts for; None for a staff key."""
    roles: frozenset[Role]
    name: str
    digest: bytes
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    algorithm: str = ALGORITHM

    def active(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at

    def actor(self) -> Actor:
        return Actor(id=f"key:{self.id}", roles=self.roles, tenant=self.tenant)

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes of a tenant key, or the staff roles of a staff key."""
        if self.tenant is None:
            return tuple(sorted(r.value for r in self.roles))
        return tuple(sorted(ROLE_SCOPES[r].value for r in self.roles))

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active" if self.expires_at is None else "expiring"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str
    """The whole key as the client sends it; shown once, stored nowhere."""


class KeyStore(Protocol):
    """Where keys live. `get` is the only unscoped read: authentication starts
    from the key id the caller presents, before any tenant is known."""

    def add(self, key: ApiKey) -> None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def find(self, tenant: str | None, key_id: str) -> ApiKey | None:
        """The key if it belongs to `tenant` (None: the staff keys)."""
        ...

    def list(self, tenant: str | None) -> list[ApiKey]:
        """The tenant's keys (None: the staff keys), oldest first."""
        ...

    def update(
        self,
        tenant: str | None,
        key_id: str,
        *,
        revoked_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKey | None:
        """Set the revocation or expiry time of one of the tenant's keys (None: unchanged)."""
        ...


class MemoryKeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def add(self, key: ApiKey) -> None:
        with self._lock:
            if key.id in self._keys:
                raise ValueError(f"duplicate key id {key.id!r}")
            self._keys[key.id] = key

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def find(self, tenant: str | None, key_id: str) -> ApiKey | None:
        key = self._keys.get(key_id)
        return key if key is not None and key.tenant == tenant else None

    def list(self, tenant: str | None) -> list[ApiKey]:
        found = [k for k in self._keys.values() if k.tenant == tenant]
        return sorted(found, key=lambda k: (k.created_at, k.id))

    def update(
        self,
        tenant: str | None,
        key_id: str,
        *,
        revoked_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKey | None:
        with self._lock:
            key = self.find(tenant, key_id)
            if key is None:
                return None
            if revoked_at is not None:
                key = replace(key, revoked_at=revoked_at)
            if expires_at is not None:
                key = replace(key, expires_at=expires_at)
            self._keys[key_id] = key
            return key


def digest_secret(pepper: bytes, secret: str) -> bytes:
    return hmac.digest(pepper, secret.encode(), "sha256")  # one-shot: no HMAC object


def parse_key(presented: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    prefix, sep, rest = presented.partition("_")
    if prefix != PREFIX or not sep:
        return None
    key_id, sep, secret = rest.partition("_")
    if not sep or len(key_id) != 16 or not secret or len(secret) > 128:
        return None
    return key_id, secret


def _new_secret() -> tuple[str, str]:
    key_id = secrets.token_hex(8)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return key_id, secret


def _utc_now() -> datetime:
    return datetime.now(UTC)


def roles_for(tenant: str | None, scopes: Iterable[str]) -> frozenset[Role]:
    """The roles a key gets from its scopes (tenant keys) or staff role names (staff keys)."""
    names = [s.strip().lower() for s in scopes if s.strip()]
    if not names:
        raise ValueError("a key needs at least one scope")
    roles: set[Role] = set()
    for name in names:
        if tenant is None:
            if name not in {r.value for r in STAFF_ROLES}:
                raise ValueError(
                    f"unknown staff role {name!r} (staff keys take: reviewer, admin, legal)"
                )
            roles.add(Role(name))
        else:
            if name not in {s.value for s in Scope}:
                raise ValueError(f"unknown scope {name!r} (tenant keys take: read, send, admin)")
            roles.add(SCOPE_ROLES[Scope(name)])
    return frozenset(roles)


TENANT_PATTERN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:@")


def check_tenant_id(tenant: str) -> str:
    if not tenant or len(tenant) > 128 or not set(tenant) <= TENANT_PATTERN:
        raise ValueError("a tenant id is 1-128 characters of letters, digits and . _ - : @")
    return tenant


class KeyManager:
    """Issue, list, rotate, revoke and authenticate keys (the service for both CLI and HTTP)."""

    def __init__(
        self,
        store: KeyStore,
        pepper: bytes = b"",
        *,
        cache_seconds: float = 5.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self._pepper = pepper
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self.clock = clock

    # -- management (authorized on the actor) -------------------------------------------

    def _require_manager(self, actor: Actor, tenant: str | None) -> None:
        # Role.ADMIN is a staff role: only platform staff hold it (see aupguard.actors)
        if tenant is None:
            require(actor, Role.ADMIN, action="manage staff keys")
            return
        require(actor, Role.TENANT_ADMIN, Role.ADMIN, action="manage API keys")
        require_tenant(actor, tenant, action="manage another tenant's API keys")

    def issue(
        self, actor: Actor, tenant: str | None, scopes: Iterable[str], name: str = ""
    ) -> IssuedKey:
        if tenant is not None:
            check_tenant_id(tenant)
        self._require_manager(actor, tenant)
        roles = roles_for(tenant, scopes)
        if len(name) > 200:
            raise ValueError("a key name is at most 200 characters")
        return self._issue(tenant, roles, name)

    def _issue(self, tenant: str | None, roles: frozenset[Role], name: str) -> IssuedKey:
        key_id, secret = _new_secret()
        key = ApiKey(
            id=key_id,
            tenant=tenant,
            roles=roles,
            name=name,
            digest=digest_secret(self._pepper, secret),
            created_at=self.clock(),
        )
        self.store.add(key)
        return IssuedKey(key, f"{PREFIX}_{key_id}_{secret}")

    def list(self, actor: Actor, tenant: str | None) -> list[ApiKey]:
        self._require_manager(actor, tenant)
        return self.store.list(tenant)

    def get(self, actor: Actor, tenant: str | None, key_id: str) -> ApiKey:
        self._require_manager(actor, tenant)
        key = self.store.find(tenant, key_id)
        if key is None:
            raise KeyNotFound(key_id)
        return key

    def revoke(self, actor: Actor, tenant: str | None, key_id: str) -> ApiKey:
        self._require_manager(actor, tenant)
        key = self._revoke(tenant, key_id)
        if key is None:
            raise KeyNotFound(key_id)
        return key

    def _revoke(self, tenant: str | None, key_id: str) -> ApiKey | None:
        key = self.store.find(tenant, key_id)
        if key is not None and key.revoked_at is None:
            key = self.store.update(tenant, key_id, revoked_at=self.clock())
        self._cache.pop(key_id, None)
        return key

    def rotate(
        self, actor: Actor, tenant: str | None, key_id: str, grace: timedelta = timedelta(0)
    ) -> IssuedKey:
        """A new key with the same tenant, roles and name; the old one stops working
        now, or after `grace` so that clients can switch over without failing."""
        self._require_manager(actor, tenant)
        if grace < timedelta(0) or grace > timedelta(days=30):
            raise ValueError("grace must be between 0 and 30 days")
        old = self.store.find(tenant, key_id)
        if old is None:
            raise KeyNotFound(key_id)
        now = self.clock()
        if not old.active(now):
            raise ValueError(f"key {key_id!r} is {old.state(now)}; issue a new one instead")
        new = self._issue(old.tenant, old.roles, old.name)
        if grace > timedelta(0):
            self.store.update(tenant, key_id, expires_at=now + grace)
        else:
            self.store.update(tenant, key_id, revoked_at=now)
        self._cache.pop(key_id, None)
        return new

    def revoke_compromised(self, tenant: str, key_id: str) -> bool:
        """Revoke a tenant's key found compromised (the credential policy's `revoke`
        response; enforcement decides and audits it). False when the tenant has no such key."""
        return self._revoke(tenant, key_id) is not None

    def owner(self, presented: str) -> tuple[str | None, str] | None:
        """(tenant, key id) of a presented key that is live (a secret found in clear is
        checked before anyone is told it leaked), else None."""
        actor = self.authenticate(presented)
        if actor is None:
            return None
        return actor.tenant, actor.id.removeprefix("key:")

    # -- authentication (hot path) ------------------------------------------------------

    def cached(self, presented: str) -> Actor | bool | None:
        """Authenticate from the cache alone: the actor, None (refused), or False when
        the store must be asked (`authenticate` does that)."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        hit = self._cache.get(key_id)
        if hit is None or time.monotonic() - hit[1] > self._cache_seconds:
            return False
        return self._check(hit[0], secret)

    def authenticate(self, presented: str) -> Actor | None:
        """The actor a presented key stands for, or None (malformed, unknown, wrong,
        revoked or expired: the caller learns no more than that)."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        hit = self._cache.get(key_id)
        if hit is not None and time.monotonic() - hit[1] <= self._cache_seconds:
            return self._check(hit[0], secret)
        key = self.store.get(key_id)
        if key is None:
            self._cache.pop(key_id, None)
            return None
        if self._cache_seconds > 0:
            self._cache[key_id] = (key, time.monotonic())
        return self._check(key, secret)

    def _check(self, key: ApiKey, secret: str) -> Actor | None:
        if not hmac.compare_digest(key.digest, digest_secret(self._pepper, secret)):
            return None
        if not key.active(self.clock()):
            return None
        return key.actor()
