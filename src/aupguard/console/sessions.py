"""Server-side console sessions.

The cookie carries a random 256-bit session id; the store keeps only its
SHA-256 digest, the stage of sign-in it reached, the user and the times. A
session ends after `idle` without a request or `absolute` after it began,
whichever comes first. Every change of stage (anonymous -> password checked ->
signed in) replaces the session with a new id, so an id planted before sign-in
is worthless after it (session fixation). The CSRF token of a session is an
HMAC of its id: forms carry it, the server recomputes it, nothing is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aupguard.console.store import ConsoleUser, SessionRecord, SessionStore, Stage

__all__ = ["Session", "SessionPolicy", "Sessions"]


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    before_sign_in: timedelta = timedelta(minutes=15)
    """Idle and absolute limit of a session that has not finished signing in."""
    touch_every: timedelta = timedelta(seconds=60)
    """`last_seen_at` is written at most this often (not on every request)."""
    purge_every: timedelta = timedelta(minutes=10)
    """Expired sessions are deleted this often (by whichever request starts a session)."""


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    """The secret id from the cookie."""
    record: SessionRecord

    @property
    def stage(self) -> Stage:
        return self.record.stage

    @property
    def csrf(self) -> str:
        return csrf_token(self.id)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"aupguard console csrf", hashlib.sha256).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        *,
        clock: Callable[[], datetime] = _utc_now,
        policy: SessionPolicy = SessionPolicy(),
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self._purged: datetime | None = None

    def start(
        self,
        stage: Stage = Stage.ANONYMOUS,
        user: ConsoleUser | None = None,
        ip: str | None = None,
    ) -> Session:
        now = self.clock()
        if self._purged is None or now - self._purged >= self.policy.purge_every:
            self._purged = now
            self.store.purge(now)
        session_id = secrets.token_urlsafe(32)
        lasts = self.policy.absolute if stage is Stage.SIGNED_IN else self.policy.before_sign_in
        record = SessionRecord(
            digest=_digest(session_id),
            stage=stage,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lasts,
            user_id=user.id if user else None,
            tenant=user.tenant if user else None,
            ip=ip,
        )
        self.store.add(record)
        return Session(session_id, record)

    def load(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown, expired, idle too long)."""
        if not session_id or len(session_id) > 100:
            return None
        record = self.store.get(_digest(session_id))
        if record is None:
            return None
        now = self.clock()
        idle = self.policy.idle if record.stage is Stage.SIGNED_IN else self.policy.before_sign_in
        if now >= record.expires_at or now - record.last_seen_at >= idle:
            self.store.delete(record.digest)
            return None
        if now - record.last_seen_at >= self.policy.touch_every:
            self.store.touch(record.digest, now)
        return Session(session_id, record)

    def advance(
        self, old: Session | None, stage: Stage, user: ConsoleUser, ip: str | None = None
    ) -> Session:
        """Move to the next stage under a new id; the old id stops working."""
        if old is not None:
            self.store.delete(old.record.digest)
        return self.start(stage, user, ip)

    def addresses(self, user: ConsoleUser) -> set[str]:
        """The client addresses of the user's live, signed-in sessions."""
        now = self.clock()
        return {
            r.ip
            for r in self.store.of_user(user.tenant, user.id)
            if r.ip is not None
            and r.stage is Stage.SIGNED_IN
            and now < r.expires_at
            and now - r.last_seen_at < self.policy.idle
        }

    def end(self, session: Session) -> None:
        self.store.delete(session.record.digest)

    def end_user(self, user: ConsoleUser) -> int:
        return self.store.delete_user(user.tenant, user.id)

    def check_csrf(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        return hmac.compare_digest(session.csrf, token)
