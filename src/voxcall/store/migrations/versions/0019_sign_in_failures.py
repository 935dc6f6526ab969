"""sign_in_failures: failed console sign-ins per account and per address, in the database so
that every API process slows the same guesses

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_sign_in_failures_last_at", "sign_in_failures", ["last_at"])


def downgrade() -> None:
    op.drop_table("sign_in_failures")
