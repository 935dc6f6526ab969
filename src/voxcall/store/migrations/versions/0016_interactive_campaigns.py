"""campaigns.gather and machine_detection: interactive campaigns (api.md §8, §11)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("gather", sa.JSON(), nullable=True))
    op.add_column(
        "campaigns",
        sa.Column("machine_detection", sa.String(10), nullable=False, server_default="off"),
    )


def downgrade() -> None:
    # A plain ALTER TABLE, also on SQLite (3.35 and later), as in 0014.
    for column in ("machine_detection", "gather"):
        op.drop_column("campaigns", column)
