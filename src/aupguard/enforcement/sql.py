"""The record store in SQLite or PostgreSQL (tables of the `enforcement` migration branch).

One table holds every kind of record as JSON, keyed by (kind, tenant, id),
with the three fields the service layer queries by (status, key, due) as
indexed columns. Audit entries go to the audit tables in the same
transaction (`SqlAuditLog.append_in`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from aupguard.audit.chain import AuditDraft, AuditEntry
from aupguard.audit.log import AuditLog
from aupguard.audit.sql import SqlAuditLog
from aupguard.enforcement.records import Doc
from aupguard.store.base import Base, TenantMixin, UtcDateTime
from aupguard.store.db import Database

__all__ = ["EnforcementRecordRow", "SqlRecordStore"]

D = TypeVar("D", bound=Doc)


class EnforcementRecordRow(TenantMixin, Base):
    __tablename__ = "enforcement_records"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str | None] = mapped_column(String(32), index=True)
    key: Mapped[str | None] = mapped_column(String(256), index=True)
    due: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    updated: Mapped[datetime] = mapped_column(UtcDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


_T = EnforcementRecordRow


class SqlRecordStore:
    def __init__(self, db: Database, audit: SqlAuditLog) -> None:
        self.db = db
        self._audit = audit

    @property
    def audit(self) -> AuditLog:
        return self._audit

    def get(self, model: type[D], tenant: str, id: str) -> D | None:
        with self.db.transaction() as session:
            row = session.get(_T, (model.KIND, tenant, id))
            return model.model_validate(row.data) if row is not None else None

    def put(self, docs: Sequence[Doc], audit: Sequence[AuditDraft] = ()) -> list[AuditEntry]:
        with self.db.transaction() as session:
            self._write(session, docs)
            return self._audit.append_in(session, audit)

    def _write(self, session: Session, docs: Sequence[Doc]) -> None:
        for doc in docs:
            row = session.get(_T, (doc.KIND, doc.tenant, doc.id))
            if row is None:
                row = _T(kind=doc.KIND, tenant=doc.tenant, id=doc.id)
                session.add(row)
            row.status = doc.status_index
            row.key = doc.key_index
            row.due = doc.due_index
            row.created = doc.created
            row.updated = doc.updated
            row.data = doc.model_dump(mode="json")
        session.flush()

    def find(
        self, model: type[D], tenant: str, *, status: str | None = None, key: str | None = None
    ) -> list[D]:
        query = select(_T.data).where(_T.kind == model.KIND, _T.tenant == tenant)
        if status is not None:
            query = query.where(_T.status == status)
        if key is not None:
            query = query.where(_T.key == key)
        with self.db.transaction() as session:
            rows = session.scalars(query.order_by(_T.created, _T.id))
            return [model.model_validate(r) for r in rows]

    def find_any(
        self,
        model: type[D],
        *,
        status: str | None = None,
        due_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[D]:
        query = select(_T.data).where(_T.kind == model.KIND)
        if status is not None:
            query = query.where(_T.status == status)
        if due_before is not None:
            query = query.where(_T.due.is_not(None), _T.due <= due_before)
        query = query.order_by(_T.created, _T.tenant, _T.id)
        if limit is not None:
            query = query.limit(limit)
        with self.db.transaction() as session:
            return [model.model_validate(r) for r in session.scalars(query)]

    def delete(
        self,
        model: type[D],
        tenant: str,
        ids: Sequence[str],
        audit: Sequence[AuditDraft] = (),
        put: Sequence[Doc] = (),
    ) -> int:
        with self.db.transaction() as session:
            result = session.execute(
                delete(_T).where(_T.kind == model.KIND, _T.tenant == tenant, _T.id.in_(list(ids)))
            )
            self._write(session, put)
            self._audit.append_in(session, audit)
            return int(getattr(result, "rowcount", 0) or 0)
