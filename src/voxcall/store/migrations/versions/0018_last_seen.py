"""operators.last_seen_at and project_users.last_seen_at: when each last used the console,
kept beyond their sessions (NULL: not seen since this revision)

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLES = ("operators", "project_users")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("last_seen_at", sa.Float(), nullable=True))
    # The latest request of their live sessions, where they have one.
    for table, column in zip(TABLES, ("operator_id", "user_id"), strict=True):
        op.execute(
            f"UPDATE {table} SET last_seen_at = (SELECT max(s.last_seen_at)"
            f" FROM console_sessions s WHERE s.{column} = {table}.id)"
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "last_seen_at")
