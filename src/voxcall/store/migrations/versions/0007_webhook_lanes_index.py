"""webhook_events: index (project_id, next_attempt_at) of the events not yet done

The lease takes each project's oldest due events, at most its lane's room: with this index
that is a seek per project, where ranking every due event grew with the backlog.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PENDING = sa.text("delivered_at IS NULL AND failed_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_webhook_events_lane",
        "webhook_events",
        ["project_id", "next_attempt_at"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_lane", table_name="webhook_events")
