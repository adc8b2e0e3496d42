"""Console: when a password was last changed and the hashes of the previous ones
(expiry and history, O2), and the address each session began from (one account
signed in from several places at once).

Revision ID: console_0002
Revises: console_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aupguard.store.base import UtcDateTime

revision = "console_0002"
down_revision = "console_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.add_column(sa.Column("password_changed_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("password_history", sa.JSON(), nullable=True))
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("ip", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("ip")
    with op.batch_alter_table("console_users") as batch:
        batch.drop_column("password_history")
        batch.drop_column("password_changed_at")
