"""overview_counts: a project's final calls per 10 minutes of request and status, so that
the console's overview reads 144 buckets instead of the day's calls; filled from the final
calls already there

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BUCKET = 600  # voxcall.domain.reports.BUCKET when this was written


def upgrade() -> None:
    op.create_table(
        "overview_counts",
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("bucket", sa.BigInteger(), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("attempted", sa.BigInteger(), nullable=False),
        sa.Column("billed_sec", sa.BigInteger(), nullable=False),
        sa.Column("spend_milli", sa.BigInteger(), nullable=False),
    )
    # request_date is an integer column on both backends: `/` divides whole numbers.
    op.execute(
        f"""
        INSERT INTO overview_counts
            (project_id, bucket, status, calls, attempted, billed_sec, spend_milli)
        SELECT project_id, request_date / {BUCKET} * {BUCKET}, status, count(*),
               sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END),
               sum(CASE WHEN status = 'NORMAL' THEN bill_sec ELSE 0 END),
               sum(price_milli)
        FROM calls WHERE phase = 'final'
        GROUP BY project_id, request_date / {BUCKET} * {BUCKET}, status
        """
    )


def downgrade() -> None:
    op.drop_table("overview_counts")
