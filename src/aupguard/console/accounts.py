"""Console accounts: create users, sign them in, manage roles and second factors.

Management is authorized on the `Actor` (see aupguard.actors): platform staff
with the admin role manage staff users and any tenant's users; a tenant's
admin manages that tenant's users only. Sign-in checks the password (argon2id),
then a TOTP code (RFC 6238, each time step good once) or a single-use recovery
code. Repeated failures lock the account for a time that doubles with every
further failure.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pyotp

from aupguard.actors import STAFF_ROLES, TENANT_ROLES, Actor, Role, require, require_tenant
from aupguard.api.keys import check_tenant_id
from aupguard.console.passwords import Passwords, WeakPassword, check_password_policy
from aupguard.console.store import ConsoleUser, UserStore

__all__ = [
    "ISSUER",
    "Accounts",
    "Lockout",
    "NewUser",
    "SignIn",
    "UserNotFound",
    "WrongPassword",
]

ISSUER = "aupguard"
PASSWORD_MAX_AGE = timedelta(days=180)
"""Default: see docs/console.md (O2 asks for passwords "changed often"; NIST SP 800-63B
advises against forced changes without cause; 0 turns expiry off)."""
PASSWORD_HISTORY = 5
RECOVERY_CODES = 10
INACTIVE_AFTER = timedelta(days=90)


class UserNotFound(LookupError):
    """No such user in the tenant asked for (another tenant's user is not found either)."""

    def __init__(self, user_id: str) -> None:
        super().__init__(f"no console user {user_id!r}")
        self.user_id = user_id


class WrongPassword(ValueError):
    def __init__(self) -> None:
        super().__init__("the current password is wrong")


@dataclass(frozen=True, slots=True)
class Lockout:
    """After `threshold` failures in a row the account locks for `first`, doubling
    with every further failure up to `longest`; a successful sign-in resets it."""

    threshold: int = 5
    first: timedelta = timedelta(minutes=1)
    longest: timedelta = timedelta(hours=1)

    def until(self, failures: int, now: datetime) -> datetime | None:
        if failures < self.threshold:
            return None
        wait: timedelta = self.first * (2 ** min(failures - self.threshold, 16))
        longest: timedelta = min(wait, self.longest)
        return now + longest


@dataclass(frozen=True, slots=True)
class NewUser:
    user: ConsoleUser
    otpauth_uri: str
    """What an authenticator app scans (the secret is in it): shown to the user once."""


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of the password step."""

    user: ConsoleUser | None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def parse_roles(tenant: str | None, names: Iterable[str]) -> frozenset[Role]:
    """Roles from names; staff users take staff roles, tenant users tenant roles."""
    allowed = STAFF_ROLES if tenant is None else TENANT_ROLES
    roles: set[Role] = set()
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        if name not in {r.value for r in allowed}:
            kind = "staff users" if tenant is None else "tenant users"
            options = ", ".join(sorted(r.value for r in allowed))
            raise ValueError(f"unknown role {name!r} ({kind} take: {options})")
        roles.add(Role(name))
    if not roles:
        raise ValueError("a user needs at least one role")
    return frozenset(roles)


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@+")


def check_user_name(name: str) -> str:
    name = name.strip().lower()
    if not 3 <= len(name) <= 200 or not set(name) <= NAME_CHARS:
        raise ValueError("a user name is 3-200 characters of letters, digits and . _ - @ +")
    return name


class Accounts:
    def __init__(
        self,
        users: UserStore,
        passwords: Passwords | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        lockout: Lockout = Lockout(),
        totp_window: int = 1,
        password_max_age: timedelta = PASSWORD_MAX_AGE,
        password_history: int = PASSWORD_HISTORY,
    ) -> None:
        self.users = users
        self.passwords = passwords or Passwords()
        self.clock = clock
        self.lockout = lockout
        self.totp_window = totp_window
        self.password_max_age = password_max_age
        """Zero: passwords never expire."""
        self.password_history = password_history
        """A new password must differ from this many (the current one included)."""

    # -- management (authorized on the actor) -------------------------------------------

    def _require_manager(self, actor: Actor, tenant: str | None) -> None:
        if tenant is None:
            require(actor, Role.ADMIN, action="manage staff users")
            return
        require(actor, Role.ADMIN, Role.TENANT_ADMIN, action="manage console users")
        require_tenant(actor, tenant, action="manage another tenant's users")

    def create(
        self,
        actor: Actor,
        name: str,
        tenant: str | None,
        roles: Iterable[str],
        password: str,
    ) -> NewUser:
        """A new user with an unconfirmed TOTP secret: the first sign-in enrols it."""
        if tenant is not None:
            check_tenant_id(tenant)
        self._require_manager(actor, tenant)
        name = check_user_name(name)
        parsed = parse_roles(tenant, roles)
        check_password_policy(password, name)
        user = ConsoleUser(
            id=secrets.token_hex(8),
            name=name,
            tenant=tenant,
            roles=parsed,
            password_hash=self.passwords.hash(password),
            totp_secret=pyotp.random_base32(),
            created_at=self.clock(),
        )
        self.users.add(user)
        return NewUser(user, self.otpauth_uri(user))

    def users_of(self, actor: Actor, tenant: str | None) -> list[ConsoleUser]:
        self._require_manager(actor, tenant)
        return self.users.in_tenant(tenant)

    def get(self, actor: Actor, tenant: str | None, user_id: str) -> ConsoleUser:
        self._require_manager(actor, tenant)
        user = self.users.find(tenant, user_id)
        if user is None:
            raise UserNotFound(user_id)
        return user

    def set_roles(
        self, actor: Actor, tenant: str | None, user_id: str, roles: Iterable[str]
    ) -> ConsoleUser:
        user = self.get(actor, tenant, user_id)
        updated = replace(user, roles=parse_roles(tenant, roles))
        self.users.save(updated)
        return updated

    def reset_second_factor(self, actor: Actor, tenant: str | None, user_id: str) -> NewUser:
        """A fresh TOTP secret to enrol at the next sign-in; the recovery codes are void."""
        user = self.get(actor, tenant, user_id)
        updated = replace(
            user, totp_secret=pyotp.random_base32(), totp_confirmed=False, totp_last_step=0
        )
        self.users.save(updated)
        self.users.set_recovery_codes(tenant, user_id, [])
        return NewUser(updated, self.otpauth_uri(updated))

    def revoke(self, actor: Actor, tenant: str | None, user_id: str) -> ConsoleUser:
        """The user can no longer sign in (its sessions are ended by the caller)."""
        user = self.get(actor, tenant, user_id)
        if user.revoked_at is not None:
            return user
        updated = replace(user, revoked_at=self.clock())
        self.users.save(updated)
        return updated

    def inactive_staff(self, actor: Actor, after: timedelta = INACTIVE_AFTER) -> list[ConsoleUser]:
        """Active staff users who have not signed in for `after` (membership review)."""
        require(actor, Role.ADMIN, action="review staff membership")  # a staff-only role
        cutoff = self.clock() - after
        return [u for u in self.users.in_tenant(None) if u.active and u.last_active() <= cutoff]

    def otpauth_uri(self, user: ConsoleUser) -> str:
        return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.name, issuer_name=ISSUER)

    # -- sign-in ----------------------------------------------------------------------

    def check_password(self, name: str, password: str) -> SignIn:
        now = self.clock()
        try:
            user = self.users.by_name(check_user_name(name))
        except ValueError:
            user = None
        if user is None or not user.active:
            self.passwords.verify_nobody(password)
            return SignIn(None)
        if user.locked_until is not None and now < user.locked_until:
            self.passwords.verify_nobody(password)  # the same time as any other answer
            return SignIn(None, locked_until=user.locked_until)
        if not self.passwords.verify(user.password_hash, password):
            return SignIn(None, locked_until=self._fail(user))
        if self.passwords.needs_rehash(user.password_hash):
            user = replace(user, password_hash=self.passwords.hash(password))
            self.users.save(user)
        return SignIn(user)

    def change_password(self, user: ConsoleUser, current: str, new: str) -> ConsoleUser:
        """Replace the user's password. A wrong current password counts as a failed
        sign-in (WrongPassword); the new one must meet the policy (WeakPassword)."""
        stored = self.users.find(user.tenant, user.id)
        if stored is None:
            raise UserNotFound(user.id)
        if not self.passwords.verify(stored.password_hash, current):
            self._fail(stored)
            raise WrongPassword()
        check_password_policy(new, stored.name)
        if self.passwords.verify(stored.password_hash, new):
            raise WeakPassword("the new password must differ from the current one")
        keep = max(self.password_history - 1, 0)
        if any(self.passwords.verify(old, new) for old in stored.password_history[:keep]):
            raise WeakPassword(
                f"the new password must differ from your last {self.password_history} passwords"
            )
        updated = replace(
            stored,
            password_hash=self.passwords.hash(new),
            password_changed_at=self.clock(),
            password_history=(stored.password_hash, *stored.password_history)[:keep],
        )
        self.users.save(updated)
        return updated

    def password_expired(self, user: ConsoleUser) -> bool:
        """The password is older than the maximum age (never, when that is zero)."""
        if self.password_max_age <= timedelta(0):
            return False
        return self.clock() >= user.password_set_at() + self.password_max_age

    def _fail(self, user: ConsoleUser) -> datetime | None:
        failures = self.users.record_failure(user.tenant, user.id)
        until = self.lockout.until(failures, self.clock())
        if until is not None:
            current = self.users.find(user.tenant, user.id)
            if current is not None:
                self.users.save(replace(current, locked_until=until))
        return until

    def fresh(
        self, tenant: str | None, user_id: str, *, signed_in: bool = False
    ) -> ConsoleUser | None:
        """The user as stored now, if not revoked. Halfway through sign-in (the
        default) a locked user is refused too; a completed session is not ended by a
        lockout, or anyone could sign a user out by failing to sign in as them."""
        user = self.users.find(tenant, user_id)
        if user is None or not user.active:
            return None
        locked = user.locked_until is not None and self.clock() < user.locked_until
        if locked and not signed_in:
            return None
        return user

    def check_totp(self, user: ConsoleUser, code: str) -> bool:
        """A current code, not used before; a wrong one counts as a failed sign-in."""
        code = _normalise_code(code)
        totp = pyotp.TOTP(user.totp_secret)
        now = self.clock()
        step = int(now.timestamp()) // totp.interval
        if len(code) == totp.digits and code.isdigit():
            for offset in range(-self.totp_window, self.totp_window + 1):
                at = datetime.fromtimestamp((step + offset) * totp.interval, UTC)
                if secrets.compare_digest(totp.at(at), code):
                    return self.users.use_totp_step(user.tenant, user.id, step + offset)
        self._fail(user)
        return False

    def confirm_enrolment(self, user: ConsoleUser, code: str) -> list[str] | None:
        """Confirm the second factor with a first code; the recovery codes (shown once)."""
        if not self.check_totp(user, code):
            return None
        current = self.users.find(user.tenant, user.id)
        if current is None:
            return None
        self.users.save(replace(current, totp_confirmed=True))
        return self.new_recovery_codes(current)

    def new_recovery_codes(self, user: ConsoleUser) -> list[str]:
        codes = ["-".join(secrets.token_hex(3) for _ in range(3)) for _ in range(RECOVERY_CODES)]
        self.users.set_recovery_codes(
            user.tenant, user.id, [_digest(_normalise_code(c)) for c in codes]
        )
        return codes

    def use_recovery_code(self, user: ConsoleUser, code: str) -> bool:
        if self.users.use_recovery_code(user.tenant, user.id, _digest(_normalise_code(code))):
            return True
        self._fail(user)
        return False

    def signed_in(self, user: ConsoleUser) -> ConsoleUser:
        """Record a completed sign-in: failures reset, last sign-in now."""
        current = self.users.find(user.tenant, user.id) or user
        updated = replace(
            current, failed_attempts=0, locked_until=None, last_sign_in_at=self.clock()
        )
        self.users.save(updated)
        return updated
