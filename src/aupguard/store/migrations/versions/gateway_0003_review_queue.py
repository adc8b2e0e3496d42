"""Gateway: indexes for the review console's held-message queue (keyset over
(status, created_at, id)), a sender's history, and a message's outbox entries.

Revision ID: gateway_0003
Revises: gateway_0002
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0003"
down_revision = "gateway_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_gateway_messages_status_created",
        "gateway_messages",
        ["status", "created_at", "id"],
    )
    op.create_index(
        "ix_gateway_messages_tenant_sender",
        "gateway_messages",
        ["tenant", "sender", "created_at"],
    )
    op.create_index("ix_gateway_outbox_message", "gateway_outbox", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_gateway_outbox_message", table_name="gateway_outbox")
    op.drop_index("ix_gateway_messages_tenant_sender", table_name="gateway_messages")
    op.drop_index("ix_gateway_messages_status_created", table_name="gateway_messages")
