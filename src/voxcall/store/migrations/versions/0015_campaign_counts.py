"""campaign_counts: a campaign's final calls by status and their debits, kept as they become
final instead of counted at each read; filled here from the calls of existing campaigns

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_counts",
        sa.Column("campaign_id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.Column("price_milli", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO campaign_counts (campaign_id, status, calls, price_milli)"
        " SELECT calls.campaign_id, calls.status, count(*), sum(calls.price_milli)"
        " FROM calls JOIN campaigns ON campaigns.id = calls.campaign_id"
        " WHERE calls.phase = 'final'"
        " GROUP BY calls.campaign_id, calls.status"
    )


def downgrade() -> None:
    op.drop_table("campaign_counts")
