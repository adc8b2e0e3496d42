"""The SQL key store (SQLite embedded, PostgreSQL for servers).

Table `gateway_api_keys`, created by the Alembic branch ``gateway``. A staff
key has a NULL tenant; every management query filters on the tenant (``IS
NULL`` for staff keys), so one tenant's keys are never visible to another.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, LargeBinary, String, select
from sqlalchemy.orm import Mapped, mapped_column

from aupguard.actors import Role
from aupguard.api.keys import ApiKey
from aupguard.store.base import Base, UtcDateTime
from aupguard.store.db import Database

__all__ = ["ApiKeyRow", "SqlKeyStore"]


class ApiKeyRow(Base):
    __tablename__ = "gateway_api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[str] = mapped_column(String(200))
    algorithm: Mapped[str] = mapped_column(String(32))
    digest: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    def to_key(self) -> ApiKey:
        return ApiKey(
            id=self.id,
            tenant=self.tenant,
            roles=frozenset(Role(r) for r in self.roles.split(",") if r),
            name=self.name,
            digest=bytes(self.digest),
            created_at=self.created_at,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
            algorithm=self.algorithm,
        )


def _tenant_is(tenant: str | None) -> ColumnElement[bool]:
    return ApiKeyRow.tenant.is_(None) if tenant is None else ApiKeyRow.tenant == tenant


class SqlKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, key: ApiKey) -> None:
        with self.db.transaction() as session:
            session.add(
                ApiKeyRow(
                    id=key.id,
                    tenant=key.tenant,
                    name=key.name,
                    roles=",".join(sorted(r.value for r in key.roles)),
                    algorithm=key.algorithm,
                    digest=key.digest,
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                    revoked_at=key.revoked_at,
                )
            )

    def get(self, key_id: str) -> ApiKey | None:
        with self.db.transaction() as session:
            row = session.get(ApiKeyRow, key_id)
            return row.to_key() if row is not None else None

    def find(self, tenant: str | None, key_id: str) -> ApiKey | None:
        with self.db.transaction() as session:
            row = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.id == key_id, _tenant_is(tenant))
            ).one_or_none()
            return row.to_key() if row is not None else None

    def list(self, tenant: str | None) -> list[ApiKey]:
        with self.db.transaction() as session:
            rows = session.scalars(
                select(ApiKeyRow)
                .where(_tenant_is(tenant))
                .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
            )
            return [row.to_key() for row in rows]

    def update(
        self,
        tenant: str | None,
        key_id: str,
        *,
        revoked_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKey | None:
        with self.db.transaction() as session:
            row = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.id == key_id, _tenant_is(tenant))
            ).one_or_none()
            if row is None:
                return None
            if revoked_at is not None:
                row.revoked_at = revoked_at
            if expires_at is not None:
                row.expires_at = expires_at
            session.flush()
            return row.to_key()
