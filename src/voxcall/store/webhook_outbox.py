"""The webhook outbox: one event per final call of a project with a webhook."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, union_all, update

from voxcall.domain.webhooks import (
    KEPT_FIRST_REQUESTS,
    KEPT_LAST_REQUESTS,
    WebhookDelivery,
    WebhookOutcome,
    lease_shares,
)
from voxcall.store import schema as t
from voxcall.store.call_rows import call_from_row
from voxcall.store.database import Database


class WebhookOutbox(Database):
    """Webhook events waiting to be delivered, leased to a deliverer one attempt at a time."""

    def lease_webhooks(
        self,
        now: float,
        *,
        limit: int,
        lease: float,
        per_project: int,
        room: Mapping[str, int] | None = None,
    ) -> list[WebhookDelivery]:
        """Take due events for one delivery attempt each, oldest first: at most `limit`, and
        of a project at most its `room` if it has one there, else `per_project`, so that the
        caller can send everything taken at once. The lease hides them from other
        deliverers until it runs out (a crash mid-delivery means a later re-send)."""
        events = t.webhook_events
        with self._write() as conn:
            shares = lease_shares(
                [(project, oldest) for project, oldest in conn.execute(_OLDEST_PENDING).all()],
                now,
                limit=limit,
                per_project=per_project,
                room=room or {},
            )
            if not shares:
                return []
            firsts = [
                select(events.c.id)
                .where(
                    events.c.project_id == project,
                    events.c.delivered_at.is_(None),
                    events.c.failed_at.is_(None),
                    events.c.next_attempt_at <= now,
                )
                .order_by(events.c.next_attempt_at)
                .limit(share)
                .subquery()
                for project, share in shares
            ]
            candidates = union_all(*(select(first.c.id) for first in firsts)).subquery()
            due = (
                select(events.c.id)
                .where(events.c.id.in_(select(candidates.c.id)))
                .order_by(events.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .cte("due")  # evaluated once: see _claim
            )
            leased = conn.execute(
                update(t.webhook_events)
                .add_cte(due)
                .where(t.webhook_events.c.id == due.c.id)
                .values(
                    next_attempt_at=now + lease,
                    attempts=t.webhook_events.c.attempts + 1,
                )
                .returning(*t.webhook_events.c)
            ).all()
            if not leased:
                return []
            calls = {
                r.id: call_from_row(r._mapping)
                for r in conn.execute(
                    select(t.calls).where(t.calls.c.id.in_([e.call_id for e in leased]))
                ).all()
            }
            projects = {
                r.id: (r.webhook_url, r.webhook_secret)
                for r in conn.execute(
                    select(t.projects).where(t.projects.c.id.in_({e.project_id for e in leased}))
                ).all()
            }
        deliveries = []
        for e in leased:
            url, secret = projects[e.project_id]
            if url and secret:  # a webhook cleared since: nothing to deliver to
                deliveries.append(
                    WebhookDelivery(
                        id=e.id,
                        project_id=e.project_id,
                        call=calls[e.call_id],
                        url=url,
                        secret=secret,
                        attempts=e.attempts,
                        created_at=e.created_at,
                    )
                )
        return deliveries

    def webhook_outcomes(self, outcomes: Sequence[WebhookOutcome]) -> None:
        """Record how attempts ended, and each attempt itself, all in one transaction (one
        commit), in which the requests their events no longer keep are deleted."""
        delivered, retried, given_up = [], [], []
        attempts = [
            {
                "event_id": o.event_id,
                "sent_at": o.sent_at,
                "duration": o.duration,
                "status_code": o.status_code,
                "error": o.transport_error and o.transport_error[:300],
            }
            for o in outcomes
        ]
        for o in outcomes:
            error = o.error
            if error is None:
                delivered.append({"b_id": o.event_id, "b_at": o.at})
            elif o.retry_at is None:
                given_up.append({"b_id": o.event_id, "b_error": error[:300], "b_at": o.at})
            else:
                retried.append({"b_id": o.event_id, "b_error": error[:300], "b_at": o.retry_at})
        with self._write() as conn:
            for statement, rows in (
                (_WEBHOOK_DELIVERED, delivered),
                (_WEBHOOK_RETRY, retried),
                (_WEBHOOK_GIVEN_UP, given_up),
            ):
                if rows:
                    conn.execute(statement, rows)
            if attempts:
                conn.execute(insert(t.webhook_attempts), attempts)
                _forget_middle_requests(conn, {o.event_id for o in outcomes})

    def webhook_events(self, project_id: str) -> list[Mapping[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.webhook_events)
                .where(t.webhook_events.c.project_id == project_id)
                .order_by(t.webhook_events.c.created_at)
            ).all()
        return [dict(r._mapping) for r in rows]


def _forget_middle_requests(conn: Connection, event_ids: Collection[str]) -> None:
    """Delete the requests of these events beyond their first KEPT_FIRST_REQUESTS and
    before their last KEPT_LAST_REQUESTS, counting them on each event."""
    a = t.webhook_attempts.c
    numbered = (
        select(
            a.seq,
            func.row_number().over(partition_by=a.event_id, order_by=a.seq).label("from_first"),
            func.row_number()
            .over(partition_by=a.event_id, order_by=a.seq.desc())
            .label("from_last"),
        )
        .where(a.event_id.in_(event_ids))
        .subquery()
    )
    middle = select(numbered.c.seq).where(
        numbered.c.from_first > KEPT_FIRST_REQUESTS, numbered.c.from_last > KEPT_LAST_REQUESTS
    )
    forgotten = Counter(
        conn.execute(
            delete(t.webhook_attempts).where(a.seq.in_(middle)).returning(a.event_id)
        ).scalars()
    )
    if forgotten:
        conn.execute(_REQUESTS_NOT_KEPT, [{"b_id": e, "b_count": n} for e, n in forgotten.items()])


# Each project with a webhook, and the next_attempt_at of its oldest pending event (a seek in
# ix_webhook_events_lane), or NULL.
_OLDEST_PENDING = select(
    t.projects.c.id,
    select(func.min(t.webhook_events.c.next_attempt_at))
    .where(
        t.webhook_events.c.project_id == t.projects.c.id,
        t.webhook_events.c.delivered_at.is_(None),
        t.webhook_events.c.failed_at.is_(None),
    )
    .scalar_subquery(),
).where(t.projects.c.webhook_url.is_not(None))
# How a webhook attempt ended; b_at is when it was delivered, given up, or is to be retried.
_WEBHOOK_OUTCOME = update(t.webhook_events).where(t.webhook_events.c.id == bindparam("b_id"))
_WEBHOOK_DELIVERED = _WEBHOOK_OUTCOME.values(delivered_at=bindparam("b_at"), last_error="")
_WEBHOOK_RETRY = _WEBHOOK_OUTCOME.values(
    last_error=bindparam("b_error"), next_attempt_at=bindparam("b_at")
)
_WEBHOOK_GIVEN_UP = _WEBHOOK_OUTCOME.values(
    last_error=bindparam("b_error"), failed_at=bindparam("b_at")
)
_REQUESTS_NOT_KEPT = _WEBHOOK_OUTCOME.values(
    requests_not_kept=t.webhook_events.c.requests_not_kept + bindparam("b_count")
)
