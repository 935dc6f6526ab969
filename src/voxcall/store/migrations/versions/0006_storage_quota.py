"""projects.storage_quota and voices.stored_bytes: a quota on each project's voice files

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "projects",
        sa.Column(
            "storage_quota", sa.BigInteger(), nullable=False, server_default=str(500 * 1024 * 1024)
        ),
    )
    op.add_column(
        "voices",
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0"),
    )
    # Existing voices: the original plus the 8 kHz 16-bit WAV (44-byte header) made of it.
    op.execute(
        "UPDATE voices SET stored_bytes = size + 44 + 2 * CAST(duration * 8000 AS BIGINT) "
        "WHERE deleted_at IS NULL"
    )


def downgrade() -> None:
    op.drop_column("voices", "stored_bytes")
    op.drop_column("projects", "storage_quota")
