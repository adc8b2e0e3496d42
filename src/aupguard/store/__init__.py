"""Persistence: SQLAlchemy models and repositories behind the stores' Protocols.

Every store has an in-memory implementation and a SQL one (SQLite embedded,
PostgreSQL for servers); one contract test suite runs against all of them.
Every row belongs to a tenant, and every query is scoped by it.
"""

from aupguard.store.base import Base, TenantMixin, UtcDateTime
from aupguard.store.db import Database

__all__ = ["Base", "Database", "TenantMixin", "UtcDateTime"]
