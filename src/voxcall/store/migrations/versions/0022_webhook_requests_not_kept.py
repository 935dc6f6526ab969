"""webhook_events.requests_not_kept: how many of an event's requests were deleted from
webhook_attempts, which keeps only its first and its latest (voxcall.domain.webhooks).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webhook_events",
        sa.Column("requests_not_kept", sa.Integer, nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    # A plain ALTER TABLE, also on SQLite (3.35 and later), as in 0020.
    op.drop_column("webhook_events", "requests_not_kept")
