"""Gateway: the shadow-mode rules of each decision, and those that would have changed
its verdict (the console's policy page compares them with what is enforced).

Revision ID: gateway_0004
Revises: gateway_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gateway_0004"
down_revision = "gateway_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "gateway_decisions", sa.Column("shadow", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "gateway_decisions",
        sa.Column("shadow_changes", sa.Text(), nullable=False, server_default=""),
    )
    # partial: only the decisions a shadow rule fired on (a few in a hundred)
    op.create_index(
        "ix_gateway_decisions_shadow_at",
        "gateway_decisions",
        ["at"],
        postgresql_where=sa.text("shadow <> ''"),
        sqlite_where=sa.text("shadow <> ''"),
    )


def downgrade() -> None:
    op.drop_index("ix_gateway_decisions_shadow_at", table_name="gateway_decisions")
    with op.batch_alter_table("gateway_decisions") as batch:
        batch.drop_column("shadow_changes")
        batch.drop_column("shadow")
