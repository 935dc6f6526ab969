"""Calls per second as a sliding window over the attempts; billSec 0 on calls not NORMAL

The token bucket (dialers.cps_tokens, cps_refilled_at) let a full second's burst through on
top of the rate, so a one-second window could hold twice the limit. Claims now count the
dialer's attempts started within the last second, by (dialer_id, started_at).

Calls that ended other than NORMAL used to keep the answered seconds of a failed attempt as
their billSec; they report 0 now (the attempt's own row keeps the seconds).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attempts_dialer_started", "attempts", ["dialer_id", "started_at"])
    op.drop_column("dialers", "cps_tokens")
    op.drop_column("dialers", "cps_refilled_at")
    op.execute("UPDATE calls SET bill_sec = 0 WHERE status <> 'NORMAL' AND bill_sec <> 0")


def downgrade() -> None:
    # A full bucket, as a new dialer had it.
    op.add_column(
        "dialers", sa.Column("cps_refilled_at", sa.Float(), nullable=False, server_default="0")
    )
    op.add_column(
        "dialers", sa.Column("cps_tokens", sa.Float(), nullable=False, server_default="1")
    )
    op.drop_index("ix_attempts_dialer_started", table_name="attempts")
