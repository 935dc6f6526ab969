"""calls.window_held_from: when a call waiting for its calling window's opening was otherwise
due, so that a window widened or cleared, or a holiday removed, lets it go at once (api.md
§10). Calls already waiting keep their time: when they were otherwise due is not known.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_HELD = "phase = 'queued' AND window_held_from IS NOT NULL"


def upgrade() -> None:
    op.add_column("calls", sa.Column("window_held_from", sa.Float, nullable=True))
    op.create_index(
        "ix_calls_window_held",
        "calls",
        ["project_id", "id"],
        sqlite_where=sa.text(_HELD),
        postgresql_where=sa.text(_HELD),
    )


def downgrade() -> None:
    op.drop_index("ix_calls_window_held", table_name="calls")
    # A plain ALTER TABLE, also on SQLite (3.35 and later): a batch would copy `calls`,
    # which other tables' foreign keys refer to.
    op.drop_column("calls", "window_held_from")
