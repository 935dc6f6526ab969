"""attempts: index (state, dialer_id) instead of (dialer_id, state)

Counting the channels in use (`WHERE state = 'dialing' GROUP BY dialer_id`, every dispatch
round) scanned the whole old index, so it slowed down as attempts piled up.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_attempts_dialer_live", table_name="attempts")
    op.create_index("ix_attempts_live_dialer", "attempts", ["state", "dialer_id"])


def downgrade() -> None:
    op.drop_index("ix_attempts_live_dialer", table_name="attempts")
    op.create_index("ix_attempts_dialer_live", "attempts", ["dialer_id", "state"])
