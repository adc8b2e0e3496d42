"""Consent: an opt-in records whether the person's age was verified (age gating).

Revision ID: consent_0002
Revises: consent_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "consent_0002"
down_revision = "consent_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(
            sa.Column("age_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_column("age_verified")
