"""calls indexed by project and phase: a project's calls in progress (the console)

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
    op.create_index("ix_calls_project_phase", "calls", ["project_id", "phase"])


def downgrade() -> None:
    op.drop_index("ix_calls_project_phase", table_name="calls")
