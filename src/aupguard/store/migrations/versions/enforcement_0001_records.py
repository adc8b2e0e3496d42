"""Enforcement: one table of records (standing, strikes, actions, cases, reports...).

Revision ID: enforcement_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "enforcement_0001"
down_revision = "0001_base"
branch_labels = ("enforcement",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enforcement_records",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("key", sa.String(256), nullable=True),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "tenant", "id", name="pk_enforcement_records"),
    )
    op.create_index("ix_enforcement_records_tenant", "enforcement_records", ["tenant"])
    op.create_index("ix_enforcement_records_status", "enforcement_records", ["status"])
    op.create_index("ix_enforcement_records_key", "enforcement_records", ["key"])
    op.create_index("ix_enforcement_records_due", "enforcement_records", ["due"])


def downgrade() -> None:
    for name in ("due", "key", "status", "tenant"):
        op.drop_index(f"ix_enforcement_records_{name}", table_name="enforcement_records")
    op.drop_table("enforcement_records")
