"""The SQL console stores (SQLite embedded, PostgreSQL for servers).

Tables `console_users`, `console_recovery_codes` and `console_sessions`,
created by the Alembic branch ``console``. Staff rows have a NULL tenant; every
query past authentication filters on the tenant (``IS NULL`` for staff).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Integer,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from aupguard.actors import Role
from aupguard.console.secrets import (
    PREFIX,
    ConsoleKeyError,
    SecretBox,
    open_secret,
    seal_secret,
)
from aupguard.console.store import ConsoleUser, DuplicateUser, SessionRecord, Stage
from aupguard.store.base import Base, UtcDateTime
from aupguard.store.db import Database

__all__ = ["SqlSessionStore", "SqlUserStore"]


class UserRow(Base):
    __tablename__ = "console_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tenant: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    roles: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    totp_secret: Mapped[str] = mapped_column(String(200))
    """Sealed with the console key (`aupguard.console.secrets`), or in clear without one."""
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    password_history: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

    def to_user(self, box: SecretBox | None = None) -> ConsoleUser:
        return ConsoleUser(
            id=self.id,
            name=self.name,
            tenant=self.tenant,
            roles=frozenset(Role(r) for r in self.roles.split(",") if r),
            password_hash=self.password_hash,
            totp_secret=open_secret(box, self.totp_secret, self.id),
            created_at=self.created_at,
            totp_confirmed=self.totp_confirmed,
            totp_last_step=self.totp_last_step,
            failed_attempts=self.failed_attempts,
            locked_until=self.locked_until,
            last_sign_in_at=self.last_sign_in_at,
            revoked_at=self.revoked_at,
            password_changed_at=self.password_changed_at,
            password_history=tuple(self.password_history or ()),
        )

    def fill(self, user: ConsoleUser, box: SecretBox | None = None) -> None:
        self.roles = ",".join(sorted(r.value for r in user.roles))
        self.password_hash = user.password_hash
        self.totp_secret = seal_secret(box, user.totp_secret, user.id)
        self.totp_confirmed = user.totp_confirmed
        self.totp_last_step = user.totp_last_step
        self.failed_attempts = user.failed_attempts
        self.locked_until = user.locked_until
        self.last_sign_in_at = user.last_sign_in_at
        self.revoked_at = user.revoked_at
        self.password_changed_at = user.password_changed_at
        self.password_history = list(user.password_history)


class RecoveryCodeRow(Base):
    __tablename__ = "console_recovery_codes"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)


class SessionRow(Base):
    __tablename__ = "console_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def to_record(self) -> SessionRecord:
        return SessionRecord(
            digest=self.digest,
            stage=Stage(self.stage),
            created_at=self.created_at,
            last_seen_at=self.last_seen_at,
            expires_at=self.expires_at,
            user_id=self.user_id,
            tenant=self.tenant,
            ip=self.ip,
        )


def _user_tenant(tenant: str | None) -> ColumnElement[bool]:
    return UserRow.tenant.is_(None) if tenant is None else UserRow.tenant == tenant


def _code_tenant(tenant: str | None) -> ColumnElement[bool]:
    return RecoveryCodeRow.tenant.is_(None) if tenant is None else RecoveryCodeRow.tenant == tenant


def _session_tenant(tenant: str | None) -> ColumnElement[bool]:
    return SessionRow.tenant.is_(None) if tenant is None else SessionRow.tenant == tenant


class SqlUserStore:
    """Users in SQL. TOTP secrets are sealed with `box` (by default the console key of
    the environment, see `aupguard.console.secrets`; None: stored in clear)."""

    def __init__(self, db: Database, box: SecretBox | Literal["env"] | None = "env") -> None:
        self.db = db
        self.box = SecretBox.from_env() if box == "env" else box

    def seal_all(self) -> int:
        """Seal the secrets still stored in clear; how many were."""
        if self.box is None:
            raise ConsoleKeyError("no console key: set AUPGUARD_CONSOLE_KEY or _FILE")
        sealed = 0
        with self.db.transaction() as session:
            for row in session.scalars(
                select(UserRow).where(UserRow.totp_secret.not_like(f"{PREFIX}%"))
            ):
                row.totp_secret = self.box.seal(row.totp_secret, row.id)
                sealed += 1
        return sealed

    def add(self, user: ConsoleUser) -> None:
        row = UserRow(id=user.id, name=user.name, tenant=user.tenant, created_at=user.created_at)
        row.fill(user, self.box)
        try:
            with self.db.transaction() as session:
                session.add(row)
        except IntegrityError as exc:
            if self.by_name(user.name) is not None:
                raise DuplicateUser(user.name) from exc
            raise

    def by_name(self, name: str) -> ConsoleUser | None:
        with self.db.transaction() as session:
            row = session.scalars(select(UserRow).where(UserRow.name == name.lower())).one_or_none()
            return row.to_user(self.box) if row is not None else None

    def find(self, tenant: str | None, user_id: str) -> ConsoleUser | None:
        with self.db.transaction() as session:
            row = session.scalars(
                select(UserRow).where(UserRow.id == user_id, _user_tenant(tenant))
            ).one_or_none()
            return row.to_user(self.box) if row is not None else None

    def in_tenant(self, tenant: str | None) -> list[ConsoleUser]:
        with self.db.transaction() as session:
            rows = session.scalars(
                select(UserRow).where(_user_tenant(tenant)).order_by(UserRow.name)
            )
            return [row.to_user(self.box) for row in rows]

    def save(self, user: ConsoleUser) -> bool:
        with self.db.transaction() as session:
            row = session.scalars(
                select(UserRow).where(UserRow.id == user.id, _user_tenant(user.tenant))
            ).one_or_none()
            if row is None:
                return False
            row.fill(user, self.box)
            return True

    def record_failure(self, tenant: str | None, user_id: str) -> int:
        with self.db.transaction() as session:
            count = session.scalars(
                update(UserRow)
                .where(UserRow.id == user_id, _user_tenant(tenant))
                .values(failed_attempts=UserRow.failed_attempts + 1)
                .returning(UserRow.failed_attempts)
            ).one_or_none()
            return int(count or 0)

    def use_totp_step(self, tenant: str | None, user_id: str, step: int) -> bool:
        with self.db.transaction() as session:
            done = session.execute(
                update(UserRow)
                .where(UserRow.id == user_id, _user_tenant(tenant), UserRow.totp_last_step < step)
                .values(totp_last_step=step)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def set_recovery_codes(self, tenant: str | None, user_id: str, digests: list[str]) -> None:
        with self.db.transaction() as session:
            owner = session.scalars(
                select(UserRow.id).where(UserRow.id == user_id, _user_tenant(tenant))
            ).one_or_none()
            if owner is None:
                return
            session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
            session.add_all(
                RecoveryCodeRow(digest=d, user_id=user_id, tenant=tenant) for d in digests
            )

    def use_recovery_code(self, tenant: str | None, user_id: str, digest: str) -> bool:
        with self.db.transaction() as session:
            done = session.execute(
                delete(RecoveryCodeRow).where(
                    RecoveryCodeRow.digest == digest,
                    RecoveryCodeRow.user_id == user_id,
                    _code_tenant(tenant),
                )
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def recovery_codes_left(self, tenant: str | None, user_id: str) -> int:
        with self.db.transaction() as session:
            count = session.scalar(
                select(func.count())
                .select_from(RecoveryCodeRow)
                .where(RecoveryCodeRow.user_id == user_id, _code_tenant(tenant))
            )
            return int(count or 0)


class SqlSessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: SessionRecord) -> None:
        with self.db.transaction() as session:
            session.add(
                SessionRow(
                    digest=record.digest,
                    stage=record.stage.value,
                    user_id=record.user_id,
                    tenant=record.tenant,
                    created_at=record.created_at,
                    last_seen_at=record.last_seen_at,
                    expires_at=record.expires_at,
                    ip=record.ip,
                )
            )

    def get(self, digest: str) -> SessionRecord | None:
        with self.db.transaction() as session:
            row = session.get(SessionRow, digest)
            return row.to_record() if row is not None else None

    def touch(self, digest: str, at: datetime) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(SessionRow).where(SessionRow.digest == digest).values(last_seen_at=at)
            )

    def delete(self, digest: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(SessionRow).where(SessionRow.digest == digest))

    def delete_user(self, tenant: str | None, user_id: str) -> int:
        with self.db.transaction() as session:
            done = session.execute(
                delete(SessionRow).where(SessionRow.user_id == user_id, _session_tenant(tenant))
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    def of_user(self, tenant: str | None, user_id: str) -> list[SessionRecord]:
        with self.db.transaction() as session:
            rows = session.scalars(
                select(SessionRow).where(SessionRow.user_id == user_id, _session_tenant(tenant))
            )
            return [row.to_record() for row in rows]

    def purge(self, before: datetime) -> int:
        with self.db.transaction() as session:
            done = session.execute(delete(SessionRow).where(SessionRow.expires_at < before))
            return int(done.rowcount)  # type: ignore[attr-defined]
