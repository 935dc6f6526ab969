"""dialers.reserve_margin: the operator's reservation margin (api.md §5)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing dialers keep the one second of signalling they were reserved with before. A
    # plain ADD COLUMN with a default: SQLite need not copy a table that calls refer to.
    op.add_column(
        "dialers",
        sa.Column("reserve_margin", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    op.drop_column("dialers", "reserve_margin")
