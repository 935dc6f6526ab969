"""campaigns and their lists (api.md §8); calls indexed by campaign order and phase

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("voice_id", sa.String(32), sa.ForeignKey("voices.id"), nullable=False),
        sa.Column("dialer_id", sa.String(32), nullable=True),
        sa.Column("retry_count", sa.Integer, nullable=False),
        sa.Column("retry_interval", sa.Integer, nullable=True),
        sa.Column("start_at", sa.BigInteger, nullable=False),
        sa.Column("end_at", sa.BigInteger, nullable=False),
        sa.Column("window", sa.Text, nullable=True),
        sa.Column("max_channels", sa.Integer, nullable=True),
        sa.Column("calls_per_minute", sa.Integer, nullable=True),
        sa.Column("reservation_milli", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("released", sa.Integer, nullable=False),
        sa.Column("next_release_at", sa.Float, nullable=False),
        sa.Column("no_balance", sa.Boolean, nullable=False),
        sa.Column("skipped", sa.Text, nullable=False),
        sa.Column("rejected", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_campaigns_project", "campaigns", ["project_id", "seq"])
    op.create_index("ix_campaigns_open", "campaigns", ["finished_at", "state"])
    op.create_table(
        "campaign_numbers",
        sa.Column("campaign_seq", sa.BigInteger, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("national_number", sa.String(32), nullable=False),
        sa.Column("e164", sa.String(32), nullable=False),
    )
    op.create_index("ix_calls_campaign_order", "calls", ["campaign_id", "campaign_index"])
    op.create_index("ix_calls_campaign_phase", "calls", ["campaign_id", "phase"])


def downgrade() -> None:
    op.drop_index("ix_calls_campaign_phase", table_name="calls")
    op.drop_index("ix_calls_campaign_order", table_name="calls")
    op.drop_table("campaign_numbers")
    op.drop_index("ix_campaigns_open", table_name="campaigns")
    op.drop_index("ix_campaigns_project", table_name="campaigns")
    op.drop_table("campaigns")
