"""The record store: enforcement records of every kind, per tenant, written
together with their audit entries.

`RecordStore` is the Protocol, `MemoryRecordStore` keeps records in memory
and `enforcement.sql.SqlRecordStore` in SQLite/PostgreSQL. `put` and `delete`
take the audit drafts of the change and commit both in one transaction: a
state change is never recorded without its audit entry, nor the reverse.

Every read names its tenant. `find_any` reads across tenants for staff work
queues (overdue cases, the lifecycle job); the service layer calls it only
for actors with a staff role.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from aupguard.audit.chain import AuditDraft, AuditEntry
from aupguard.audit.log import AuditLog, MemoryAuditLog
from aupguard.enforcement.records import Doc

__all__ = ["MemoryRecordStore", "RecordStore"]

D = TypeVar("D", bound=Doc)


class RecordStore(Protocol):
    @property
    def audit(self) -> AuditLog: ...

    def get(self, model: type[D], tenant: str, id: str) -> D | None: ...

    def put(self, docs: Sequence[Doc], audit: Sequence[AuditDraft] = ()) -> list[AuditEntry]:
        """Insert or replace the records and append the drafts, all or nothing."""
        ...

    def find(
        self, model: type[D], tenant: str, *, status: str | None = None, key: str | None = None
    ) -> list[D]:
        """This tenant's records of a kind, oldest first."""
        ...

    def find_any(
        self,
        model: type[D],
        *,
        status: str | None = None,
        due_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[D]:
        """Records of a kind across tenants (staff work queues), oldest first."""
        ...

    def delete(
        self,
        model: type[D],
        tenant: str,
        ids: Sequence[str],
        audit: Sequence[AuditDraft] = (),
        put: Sequence[Doc] = (),
    ) -> int:
        """Delete records of this tenant, writing `put` and `audit` in the same transaction."""
        ...


class MemoryRecordStore:
    def __init__(self, audit: MemoryAuditLog | None = None) -> None:
        self._audit = audit or MemoryAuditLog()
        self._docs: dict[tuple[str, str, str], Doc] = {}
        self._lock = threading.RLock()

    @property
    def audit(self) -> AuditLog:
        return self._audit

    def get(self, model: type[D], tenant: str, id: str) -> D | None:
        with self._lock:
            doc = self._docs.get((model.KIND, tenant, id))
        return doc if isinstance(doc, model) else None

    def put(self, docs: Sequence[Doc], audit: Sequence[AuditDraft] = ()) -> list[AuditEntry]:
        with self._lock:
            for doc in docs:
                self._docs[(doc.KIND, doc.tenant, doc.id)] = doc
            return self._audit.append(audit) if audit else []

    def _all(self, model: type[D]) -> list[D]:
        with self._lock:
            found = [d for (k, _, _), d in self._docs.items() if k == model.KIND]
        return sorted((d for d in found if isinstance(d, model)), key=lambda d: (d.created, d.id))

    def find(
        self, model: type[D], tenant: str, *, status: str | None = None, key: str | None = None
    ) -> list[D]:
        return [
            d
            for d in self._all(model)
            if d.tenant == tenant
            and (status is None or d.status_index == status)
            and (key is None or d.key_index == key)
        ]

    def find_any(
        self,
        model: type[D],
        *,
        status: str | None = None,
        due_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[D]:
        chosen = [
            d
            for d in self._all(model)
            if (status is None or d.status_index == status)
            and (due_before is None or (d.due_index is not None and d.due_index <= due_before))
        ]
        return chosen[:limit] if limit is not None else chosen

    def delete(
        self,
        model: type[D],
        tenant: str,
        ids: Sequence[str],
        audit: Sequence[AuditDraft] = (),
        put: Sequence[Doc] = (),
    ) -> int:
        with self._lock:
            gone = 0
            for id_ in ids:
                if self._docs.pop((model.KIND, tenant, id_), None) is not None:
                    gone += 1
            for doc in put:
                self._docs[(doc.KIND, doc.tenant, doc.id)] = doc
            if audit:
                self._audit.append(audit)
            return gone
