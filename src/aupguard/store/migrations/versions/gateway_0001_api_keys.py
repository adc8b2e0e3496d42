"""Gateway: API keys (stored as keyed digests; staff keys have no tenant).

Revision ID: gateway_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aupguard.store.base import UtcDateTime

revision = "gateway_0001"
down_revision = "0001_base"
branch_labels = ("gateway",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("digest", sa.LargeBinary(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_api_keys"),
    )
    op.create_index("ix_gateway_api_keys_tenant", "gateway_api_keys", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_gateway_api_keys_tenant", table_name="gateway_api_keys")
    op.drop_table("gateway_api_keys")
