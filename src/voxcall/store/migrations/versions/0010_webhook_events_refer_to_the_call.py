"""webhook_events: no payload column, the event is rendered from its call at delivery

The body was written as JSON when the call became final; it is now rendered from the final
call (which never changes after) by voxcall.webhooks.event, to the same bytes. Pending rows
stay deliverable: each refers to its call already.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from alembic import op

from voxcall.domain.calls import Call, CallStatus, Phase
from voxcall.webhooks.event import event_body

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("payload")


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
    conn = op.get_bind()
    fields = [f.name for f in dataclasses.fields(Call)]
    rows = conn.execute(
        sa.text(
            f"SELECT webhook_events.id AS event_id, {', '.join(f'calls.{f}' for f in fields)}"
            " FROM webhook_events JOIN calls ON calls.id = webhook_events.call_id"
        )
    ).all()
    for row in rows:
        values = {f: row._mapping[f] for f in fields}
        call = Call(
            **values | {"status": CallStatus[values["status"]], "phase": Phase(values["phase"])}
        )
        conn.execute(
            sa.text("UPDATE webhook_events SET payload = :payload WHERE id = :id"),
            {"payload": event_body(call).decode(), "id": row.event_id},
        )
    with op.batch_alter_table("webhook_events") as batch:
        batch.alter_column("payload", existing_type=sa.Text(), nullable=False)
