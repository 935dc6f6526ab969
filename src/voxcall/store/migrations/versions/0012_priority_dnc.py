"""calls.call_class and calls.lane (the claim's priority and round-robin), call_lanes,
do-not-call lists (dnc_numbers, operator_dnc_numbers)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "calls", sa.Column("call_class", sa.SmallInteger, nullable=False, server_default="1")
    )
    op.add_column("calls", sa.Column("lane", sa.String(80), nullable=False, server_default=""))
    # Existing calls: a one-time code plays an otp voice; a batch has a campaign id; none is
    # of a campaign (§8) yet, so each lane is a project's calls of a class (lane_of).
    op.execute(
        "UPDATE calls SET call_class = CASE"
        " WHEN voice_id IN (SELECT id FROM voices WHERE kind = 'otp') THEN 0"
        " WHEN campaign_id IS NOT NULL THEN 2 ELSE 1 END"
    )
    op.execute("UPDATE calls SET lane = CAST(call_class AS VARCHAR(1)) || ':' || project_id || ':'")
    op.create_index("ix_calls_lane", "calls", ["phase", "lane", "next_attempt_at"])
    op.create_table(
        "call_lanes",
        sa.Column("lane", sa.String(80), primary_key=True),
        sa.Column("served_turn", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_call_lanes_served_turn", "call_lanes", ["served_turn"])
    op.create_table(
        "dnc_numbers",
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("e164", sa.String(32), primary_key=True),
        sa.Column("added_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "operator_dnc_numbers",
        sa.Column("e164", sa.String(32), primary_key=True),
        sa.Column("added_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("operator_dnc_numbers")
    op.drop_table("dnc_numbers")
    op.drop_table("call_lanes")
    op.drop_index("ix_calls_lane", table_name="calls")
    op.drop_column("calls", "lane")
    op.drop_column("calls", "call_class")
