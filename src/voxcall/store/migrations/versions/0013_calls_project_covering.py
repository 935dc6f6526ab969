"""ix_calls_project covers the overview: a project's calls by request date with their
status, attempts, billed seconds and price, so the day's activity needs no row visit

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NARROW = ["project_id", "request_date"]
COVERING = [*NARROW, "status", "attempts", "bill_sec", "price_milli"]


def upgrade() -> None:
    op.drop_index("ix_calls_project", table_name="calls")
    op.create_index("ix_calls_project", "calls", COVERING)


def downgrade() -> None:
    op.drop_index("ix_calls_project", table_name="calls")
    op.create_index("ix_calls_project", "calls", NARROW)
