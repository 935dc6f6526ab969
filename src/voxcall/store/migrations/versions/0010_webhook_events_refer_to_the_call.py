"""webhook_events: no payload column, the event is rendered from its call at delivery

The body was written as JSON when the call became final; it is now rendered from the final
call (which never changes after) by voxcall.webhooks.event, to the same bytes. Pending rows
stay deliverable: each refers to its call already.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import json
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The downgrade writes back the body as 0009 stored it. Its format is frozen here rather
# than taken from voxcall.webhooks.event: a migration must keep meaning what it meant when
# it was written, whatever the application's renderer and types become.
_STATUS_CODES = {
    "WAITING": 0,
    "NORMAL": 1,
    "NO_ANSWER": 2,
    "USER_BUSY": 3,
    "EXPIRED": 10,
    "ERROR": 11,
    "UNKNOWN": 20,
}


def upgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("payload")


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT webhook_events.id AS event_id, calls.id, calls.campaign_id,"
            " calls.price_milli, calls.status, calls.bill_sec, calls.national_number,"
            " calls.request_date, calls.execution_date"
            " FROM webhook_events JOIN calls ON calls.id = webhook_events.call_id"
        )
    ).all()
    for row in rows:
        conn.execute(
            sa.text("UPDATE webhook_events SET payload = :payload WHERE id = :id"),
            {"payload": _body_0009(row._mapping), "id": row.event_id},
        )
    with op.batch_alter_table("webhook_events") as batch:
        batch.alter_column("payload", existing_type=sa.Text(), nullable=False)


def _body_0009(call: sa.RowMapping) -> str:
    """The event of a final call as 0009 wrote it: Bitel's fields in Bitel's order, compact."""
    body = {
        "requestId": call["id"],
        "campaignId": call["campaign_id"],
        "balanceSubtracted": float(Decimal(call["price_milli"]) / 1000),
        "cause": call["status"],
        "statusCode": _STATUS_CODES[call["status"]],
        "billSec": call["bill_sec"],
        "number": call["national_number"],
        "requestDate": call["request_date"],
        "executionDate": call["execution_date"],
    }
    return json.dumps(body, separators=(",", ":"))
