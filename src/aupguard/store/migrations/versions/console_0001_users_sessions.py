"""Console: users (argon2id password hashes, TOTP), recovery codes, sessions.

Revision ID: console_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aupguard.store.base import UtcDateTime

revision = "console_0001"
down_revision = "0001_base"
branch_labels = ("console",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=False),
        sa.Column("totp_confirmed", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_sign_in_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_users"),
        sa.UniqueConstraint("name", name="uq_console_users_name"),
    )
    op.create_index("ix_console_users_tenant", "console_users", ["tenant"])
    op.create_table(
        "console_recovery_codes",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("digest", name="pk_console_recovery_codes"),
    )
    op.create_index("ix_console_recovery_codes_user_id", "console_recovery_codes", ["user_id"])
    op.create_table(
        "console_sessions",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_expires_at", table_name="console_sessions")
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index("ix_console_recovery_codes_user_id", table_name="console_recovery_codes")
    op.drop_table("console_recovery_codes")
    op.drop_index("ix_console_users_tenant", table_name="console_users")
    op.drop_table("console_users")
