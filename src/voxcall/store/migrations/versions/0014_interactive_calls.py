"""calls.gather, machine_detection, digits and answered_by: key presses and answering-machine
detection (api.md §11)

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("gather", sa.JSON(), nullable=True))
    op.add_column(
        "calls", sa.Column("machine_detection", sa.String(10), nullable=False, server_default="off")
    )
    op.add_column("calls", sa.Column("digits", sa.String(16), nullable=False, server_default=""))
    op.add_column("calls", sa.Column("answered_by", sa.String(8), nullable=True))


def downgrade() -> None:
    # A plain ALTER TABLE, also on SQLite (3.35 and later): a batch would copy `calls`, which
    # other tables' foreign keys refer to.
    for column in ("answered_by", "digits", "machine_detection", "gather"):
        op.drop_column("calls", column)
