"""Consent: the append-only consent ledger and do-not-call lists.

Revision ID: consent_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "consent_0001"
down_revision = "0001_base"
branch_labels = ("consent",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(160), nullable=False),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consent_events"),
    )
    op.create_index("ix_consent_events_lookup", "consent_events", ["tenant", "recipient", "at"])
    op.create_table(
        "consent_dnc",
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("added", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "number", name="pk_consent_dnc"),
    )


def downgrade() -> None:
    op.drop_table("consent_dnc")
    op.drop_index("ix_consent_events_lookup", table_name="consent_events")
    op.drop_table("consent_events")
