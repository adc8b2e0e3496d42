"""Gateway: messages, their decisions, the delivery outbox and idempotency keys.

Revision ID: gateway_0002
Revises: gateway_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aupguard.store.base import UtcDateTime

revision = "gateway_0002"
down_revision = "gateway_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_messages",
        sa.Column("id", sa.String(34), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("clauses", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=True),
        sa.Column("num_media", sa.Integer(), nullable=False),
        sa.Column("status_callback", sa.Text(), nullable=True),
        sa.Column("api", sa.String(16), nullable=False),
        sa.Column("account_sid", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_messages"),
    )
    op.create_index(
        "ix_gateway_messages_tenant_created", "gateway_messages", ["tenant", "created_at"]
    )
    op.create_table(
        "gateway_decisions",
        sa.Column("id", sa.String(34), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("clauses", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(34), nullable=True),
        sa.Column("event_id", sa.String(128), nullable=True),
        sa.Column("pack_version", sa.String(64), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_decisions"),
    )
    op.create_index("ix_gateway_decisions_tenant_at", "gateway_decisions", ["tenant", "at", "id"])
    op.create_table(
        "gateway_outbox",
        sa.Column("id", sa.String(34), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(34), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_outbox"),
    )
    op.create_index("ix_gateway_outbox_state_due", "gateway_outbox", ["state", "next_attempt_at"])
    op.create_table(
        "gateway_idempotency",
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.String(34), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "key", name="pk_gateway_idempotency"),
    )
    op.create_index("ix_gateway_idempotency_created", "gateway_idempotency", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_gateway_idempotency_created", table_name="gateway_idempotency")
    op.drop_table("gateway_idempotency")
    op.drop_index("ix_gateway_outbox_state_due", table_name="gateway_outbox")
    op.drop_table("gateway_outbox")
    op.drop_index("ix_gateway_decisions_tenant_at", table_name="gateway_decisions")
    op.drop_table("gateway_decisions")
    op.drop_index("ix_gateway_messages_tenant_created", table_name="gateway_messages")
    op.drop_table("gateway_messages")
