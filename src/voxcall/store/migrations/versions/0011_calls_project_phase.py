"""calls indexed for the console: a project's calls in progress, newest first, and its
calls to one number

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_project_phase", "calls", ["project_id", "phase", "request_date"])
    op.create_index(
        "ix_calls_project_number", "calls", ["project_id", "national_number", "request_date"]
    )


def downgrade() -> None:
    op.drop_index("ix_calls_project_number", table_name="calls")
    op.drop_index("ix_calls_project_phase", table_name="calls")
