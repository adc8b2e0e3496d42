"""Identity: the sender registry and account identity profiles.

Revision ID: identity_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = "0001_base"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_senders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("brand", sa.String(128), nullable=True),
        sa.Column("campaign", sa.String(128), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("challenge", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_identity_senders"),
        sa.UniqueConstraint("tenant", "sender", name="uq_identity_senders_tenant_sender"),
    )
    op.create_index("ix_identity_senders_tenant", "identity_senders", ["tenant"])
    op.create_index("ix_identity_senders_sender", "identity_senders", ["sender"])
    op.create_table(
        "identity_profiles",
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("emergency_address", sa.String(512), nullable=True),
        sa.Column("allowed_regions", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", name="pk_identity_profiles"),
    )


def downgrade() -> None:
    op.drop_table("identity_profiles")
    op.drop_index("ix_identity_senders_sender", table_name="identity_senders")
    op.drop_index("ix_identity_senders_tenant", table_name="identity_senders")
    op.drop_table("identity_senders")
