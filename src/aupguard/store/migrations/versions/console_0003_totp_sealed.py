"""Console: room for a TOTP secret sealed with AES-GCM (`v1:` and base64 of nonce,
ciphertext and tag) instead of the bare base32 secret.

Revision ID: console_0003
Revises: console_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "console_0003"
down_revision = "console_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(64), type_=sa.String(200), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(200), type_=sa.String(64), nullable=False
        )
