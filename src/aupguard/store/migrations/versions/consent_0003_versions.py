"""Consent: a version per tenant, changed in the transaction of every ledger or
do-not-call write, so that each worker can cache what it read and still see
every change at once (see `aupguard.consent.cache`).

Revision ID: consent_0003
Revises: consent_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "consent_0003"
down_revision = "consent_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_versions",
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name="pk_consent_versions"),
    )


def downgrade() -> None:
    op.drop_table("consent_versions")
