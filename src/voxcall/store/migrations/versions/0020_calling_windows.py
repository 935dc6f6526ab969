"""projects.window (the operator's default calling window) and holidays (api.md §10)

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("window", sa.Text, nullable=True))
    op.create_table(
        "holidays",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("added_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("holidays")
    # A plain ALTER TABLE, also on SQLite (3.35 and later): a batch would copy `projects`,
    # which other tables' foreign keys refer to.
    op.drop_column("projects", "window")
