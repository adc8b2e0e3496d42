"""The sender registry in SQLite or PostgreSQL (tables of the `identity` migration branch)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from aupguard.engine.events import SenderType
from aupguard.identity.registry import AccountProfile, Challenge, SenderEvidence, SenderRecord
from aupguard.store.base import Base, TenantMixin, UtcDateTime
from aupguard.store.db import Database

__all__ = ["IdentityProfileRow", "IdentitySenderRow", "SqlSenderRegistry"]


class IdentitySenderRow(TenantMixin, Base):
    __tablename__ = "identity_senders"
    __table_args__ = (
        UniqueConstraint("tenant", "sender", name="uq_identity_senders_tenant_sender"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    brand: Mapped[str | None] = mapped_column(String(128))
    campaign: Mapped[str | None] = mapped_column(String(128))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    challenge: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    updated: Mapped[datetime] = mapped_column(UtcDateTime)


class IdentityProfileRow(Base):
    __tablename__ = "identity_profiles"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    emergency_address: Mapped[str | None] = mapped_column(String(512))
    allowed_regions: Mapped[list[str] | None] = mapped_column(JSON)


def _record(row: IdentitySenderRow) -> SenderRecord:
    return SenderRecord(
        tenant=row.tenant,
        sender=row.sender,
        kind=SenderType(row.kind),
        status=row.status,
        brand=row.brand,
        campaign=row.campaign,
        evidence=tuple(SenderEvidence.model_validate(e) for e in row.evidence),
        challenge=Challenge.model_validate_json(row.challenge) if row.challenge else None,
        created=row.created,
        updated=row.updated,
    )


class SqlSenderRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, tenant: str, sender: str) -> SenderRecord | None:
        with self.db.transaction() as session:
            row = session.scalar(
                select(IdentitySenderRow).where(
                    IdentitySenderRow.tenant == tenant, IdentitySenderRow.sender == sender
                )
            )
            return _record(row) if row is not None else None

    def put(self, record: SenderRecord) -> None:
        evidence = [json.loads(e.model_dump_json()) for e in record.evidence]
        challenge = record.challenge.model_dump_json() if record.challenge else None
        with self.db.transaction() as session:
            row = session.scalar(
                select(IdentitySenderRow).where(
                    IdentitySenderRow.tenant == record.tenant,
                    IdentitySenderRow.sender == record.sender,
                )
            )
            if row is None:
                row = IdentitySenderRow(tenant=record.tenant, sender=record.sender)
                session.add(row)
            row.kind = record.kind.value
            row.status = record.status
            row.brand = record.brand
            row.campaign = record.campaign
            row.evidence = evidence
            row.challenge = challenge
            row.created = record.created
            row.updated = record.updated

    def list(self, tenant: str) -> list[SenderRecord]:
        with self.db.transaction() as session:
            rows = session.scalars(
                select(IdentitySenderRow)
                .where(IdentitySenderRow.tenant == tenant)
                .order_by(IdentitySenderRow.sender)
            )
            return [_record(r) for r in rows]

    def delete(self, tenant: str, sender: str) -> bool:
        with self.db.transaction() as session:
            result = session.execute(
                delete(IdentitySenderRow).where(
                    IdentitySenderRow.tenant == tenant, IdentitySenderRow.sender == sender
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def verified_elsewhere(self, tenant: str, sender: str) -> bool:
        with self.db.transaction() as session:
            found = session.scalar(
                select(IdentitySenderRow.id)
                .where(
                    IdentitySenderRow.sender == sender,
                    IdentitySenderRow.tenant != tenant,
                    IdentitySenderRow.status == "verified",
                )
                .limit(1)
            )
            return found is not None

    def get_profile(self, tenant: str) -> AccountProfile | None:
        with self.db.transaction() as session:
            row = session.get(IdentityProfileRow, tenant)
            if row is None:
                return None
            regions = frozenset(row.allowed_regions) if row.allowed_regions is not None else None
            return AccountProfile(
                tenant=row.tenant, emergency_address=row.emergency_address, allowed_regions=regions
            )

    def put_profile(self, profile: AccountProfile) -> None:
        regions = sorted(profile.allowed_regions) if profile.allowed_regions is not None else None
        with self.db.transaction() as session:
            row = session.get(IdentityProfileRow, profile.tenant)
            if row is None:
                row = IdentityProfileRow(tenant=profile.tenant)
                session.add(row)
            row.emergency_address = profile.emergency_address
            row.allowed_regions = regions
