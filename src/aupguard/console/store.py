"""Console users and sessions: records, store protocols and the in-memory stores.

A user belongs to one tenant (its roles are tenant roles) or to no tenant
(platform staff; staff roles). Every read and write past authentication names
the tenant it expects (None for staff) and finds nothing of another tenant.
Two reads are unscoped because they start authentication: the user by sign-in
name, and the session by the digest of the cookie's session id.

Recovery codes and session ids are random and long, so they are stored as
SHA-256 digests (a slow hash would add nothing); passwords are argon2id.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from aupguard.actors import Actor, Role

__all__ = [
    "ConsoleUser",
    "DuplicateUser",
    "MemorySessionStore",
    "MemoryUserStore",
    "SessionRecord",
    "SessionStore",
    "Stage",
    "UserStore",
]


class DuplicateUser(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a console user named {name!r} exists already")
        self.name = name


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    id: str
    name: str
    """Sign-in name, unique across the platform (stored lower case)."""
    tenant: str | None
    """None for platform staff."""
    roles: frozenset[Role]
    password_hash: str
    totp_secret: str
    created_at: datetime
    totp_confirmed: bool = False
    totp_last_step: int = 0
    """The last TOTP time step accepted: a code is good once."""
    failed_attempts: int = 0
    locked_until: datetime | None = None
    last_sign_in_at: datetime | None = None
    revoked_at: datetime | None = None
    password_changed_at: datetime | None = None
    """None: not changed since the user was created."""
    password_history: tuple[str, ...] = ()
    """Hashes of the previous passwords, newest first (as many as the history rule keeps)."""

    @property
    def is_staff(self) -> bool:
        return self.tenant is None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def actor(self) -> Actor:
        return Actor(id=f"user:{self.name}", roles=self.roles, tenant=self.tenant)

    def last_active(self) -> datetime:
        return self.last_sign_in_at or self.created_at

    def password_set_at(self) -> datetime:
        return self.password_changed_at or self.created_at


class UserStore(Protocol):
    def add(self, user: ConsoleUser) -> None:
        """Raise DuplicateUser when the name is taken."""
        ...

    def by_name(self, name: str) -> ConsoleUser | None:
        """Unscoped: sign-in starts from the name the person typed."""
        ...

    def find(self, tenant: str | None, user_id: str) -> ConsoleUser | None: ...

    def in_tenant(self, tenant: str | None) -> list[ConsoleUser]:
        """The tenant's users (None: staff), by name."""
        ...

    def save(self, user: ConsoleUser) -> bool:
        """Replace the stored record of `user` (same id and tenant); False if there is none."""
        ...

    def record_failure(self, tenant: str | None, user_id: str) -> int:
        """Count one failed sign-in atomically; the new count (0: no such user)."""
        ...

    def use_totp_step(self, tenant: str | None, user_id: str, step: int) -> bool:
        """Accept TOTP time step `step` once: True if it is newer than the last one used."""
        ...

    def set_recovery_codes(self, tenant: str | None, user_id: str, digests: list[str]) -> None:
        """Replace the user's recovery codes (digests) with these."""
        ...

    def use_recovery_code(self, tenant: str | None, user_id: str, digest: str) -> bool:
        """Spend one recovery code: True once, False for an unknown or spent code."""
        ...

    def recovery_codes_left(self, tenant: str | None, user_id: str) -> int: ...


class Stage(StrEnum):
    ANONYMOUS = "anonymous"
    """No user yet: carries the CSRF token of the sign-in form."""
    PASSWORD = "password"
    """The password was right; the second factor is next."""
    ENROL = "enrol"
    """The password was right and the user has no confirmed second factor yet."""
    SIGNED_IN = "signed_in"
    EXPIRED = "expired"
    """Password and second factor were right, but the password expired: only changing it
    (or signing out) is possible."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    digest: str
    """SHA-256 of the session id; the id itself is only in the cookie."""
    stage: Stage
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    """Absolute expiry; idle expiry is computed from `last_seen_at`."""
    user_id: str | None = None
    tenant: str | None = None
    ip: str | None = None
    """The client's address when the session began."""


class SessionStore(Protocol):
    def add(self, record: SessionRecord) -> None: ...

    def get(self, digest: str) -> SessionRecord | None:
        """Unscoped: a request starts from its cookie."""
        ...

    def touch(self, digest: str, at: datetime) -> None: ...

    def delete(self, digest: str) -> None: ...

    def delete_user(self, tenant: str | None, user_id: str) -> int:
        """End every session of one user; how many there were."""
        ...

    def of_user(self, tenant: str | None, user_id: str) -> list[SessionRecord]:
        """Every stored session of one user (expired ones not purged yet included)."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete sessions that expired before `before`; how many."""
        ...


class MemoryUserStore:
    def __init__(self) -> None:
        self._users: dict[str, ConsoleUser] = {}
        self._codes: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def add(self, user: ConsoleUser) -> None:
        with self._lock:
            if any(u.name == user.name for u in self._users.values()):
                raise DuplicateUser(user.name)
            if user.id in self._users:
                raise ValueError(f"duplicate user id {user.id!r}")
            self._users[user.id] = user

    def by_name(self, name: str) -> ConsoleUser | None:
        return next((u for u in self._users.values() if u.name == name.lower()), None)

    def find(self, tenant: str | None, user_id: str) -> ConsoleUser | None:
        user = self._users.get(user_id)
        return user if user is not None and user.tenant == tenant else None

    def in_tenant(self, tenant: str | None) -> list[ConsoleUser]:
        return sorted((u for u in self._users.values() if u.tenant == tenant), key=lambda u: u.name)

    def save(self, user: ConsoleUser) -> bool:
        with self._lock:
            if self.find(user.tenant, user.id) is None:
                return False
            self._users[user.id] = user
            return True

    def record_failure(self, tenant: str | None, user_id: str) -> int:
        with self._lock:
            user = self.find(tenant, user_id)
            if user is None:
                return 0
            user = replace(user, failed_attempts=user.failed_attempts + 1)
            self._users[user_id] = user
            return user.failed_attempts

    def use_totp_step(self, tenant: str | None, user_id: str, step: int) -> bool:
        with self._lock:
            user = self.find(tenant, user_id)
            if user is None or step <= user.totp_last_step:
                return False
            self._users[user_id] = replace(user, totp_last_step=step)
            return True

    def set_recovery_codes(self, tenant: str | None, user_id: str, digests: list[str]) -> None:
        with self._lock:
            if self.find(tenant, user_id) is not None:
                self._codes[user_id] = set(digests)

    def use_recovery_code(self, tenant: str | None, user_id: str, digest: str) -> bool:
        with self._lock:
            if self.find(tenant, user_id) is None:
                return False
            codes = self._codes.get(user_id, set())
            if digest not in codes:
                return False
            codes.discard(digest)
            return True

    def recovery_codes_left(self, tenant: str | None, user_id: str) -> int:
        if self.find(tenant, user_id) is None:
            return 0
        return len(self._codes.get(user_id, ()))


class MemorySessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._lock = threading.Lock()

    def add(self, record: SessionRecord) -> None:
        with self._lock:
            if record.digest in self._sessions:
                raise ValueError("duplicate session")
            self._sessions[record.digest] = record

    def get(self, digest: str) -> SessionRecord | None:
        return self._sessions.get(digest)

    def touch(self, digest: str, at: datetime) -> None:
        with self._lock:
            record = self._sessions.get(digest)
            if record is not None:
                self._sessions[digest] = replace(record, last_seen_at=at)

    def delete(self, digest: str) -> None:
        with self._lock:
            self._sessions.pop(digest, None)

    def delete_user(self, tenant: str | None, user_id: str) -> int:
        with self._lock:
            gone = [
                d for d, r in self._sessions.items() if r.user_id == user_id and r.tenant == tenant
            ]
            for d in gone:
                del self._sessions[d]
            return len(gone)

    def of_user(self, tenant: str | None, user_id: str) -> list[SessionRecord]:
        with self._lock:
            return [
                r for r in self._sessions.values() if r.user_id == user_id and r.tenant == tenant
            ]

    def purge(self, before: datetime) -> int:
        with self._lock:
            gone = [d for d, r in self._sessions.items() if r.expires_at < before]
            for d in gone:
                del self._sessions[d]
            return len(gone)
