"""The console's reads of a project: summaries, pages (keyset, never OFFSET), tokens and
webhook deliveries, and putting a delivery back in the outbox."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, or_, select, update

from voxcall.domain.calls import Call, Phase
from voxcall.domain.money import LedgerEntry
from voxcall.domain.reports import (
    Activity,
    Attempt,
    CallCursor,
    CallFilter,
    CallPage,
    Delivery,
    DeliveryAttempt,
    LedgerPage,
    TokenInfo,
)
from voxcall.store import overview_counts
from voxcall.store import schema as t
from voxcall.store.call_rows import call_from_row
from voxcall.store.database import Database

c = t.calls.c


class Reports(Database):
    """Read models of the console over calls, attempts, the ledger, tokens and webhooks."""

    def activity(self, project_id: str, start: int, buckets: int) -> list[Activity]:
        """The project's calls requested from `start` on, `buckets` of BUCKET seconds, by
        bucket and status, for the overview's day."""
        with self._read() as conn:
            return overview_counts.activity(conn, project_id, start, buckets)

    def calls_in_progress(self, project_id: str, limit: int = 50) -> list[Call]:
        query = (
            select(t.calls)
            .where(c.project_id == project_id, c.phase == Phase.DIALING.value)
            .order_by(c.request_date.desc(), c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [call_from_row(r._mapping) for r in conn.execute(query).all()]

    def call_page(
        self, project_id: str, where: CallFilter, after: CallCursor | None, limit: int
    ) -> CallPage:
        """Calls newest first, `limit` of them after `after`: a seek in ix_calls_project."""
        conditions = [c.project_id == project_id]
        if where.status is not None:
            conditions.append(c.status == where.status.name)
        if where.number:
            conditions.append(c.national_number == where.number)
        if where.campaign_id:
            conditions.append(c.campaign_id == where.campaign_id)
        if where.since is not None:
            conditions.append(c.request_date >= where.since)
        if where.until is not None:
            conditions.append(c.request_date < where.until)
        if after is not None:
            conditions.append(
                or_(
                    c.request_date < after.request_date,
                    and_(c.request_date == after.request_date, c.id < after.id),
                )
            )
        query = (
            select(t.calls)
            .where(*conditions)
            .order_by(c.request_date.desc(), c.id.desc())
            .limit(limit + 1)
        )
        with self._read() as conn:
            calls = [call_from_row(r._mapping) for r in conn.execute(query).all()]
        more = len(calls) > limit
        calls = calls[:limit]
        last = calls[-1] if more else None
        return CallPage(calls, CallCursor(last.request_date, last.id) if last else None)

    def attempts(self, call_id: str) -> list[Attempt]:
        a = t.attempts.c
        query = select(t.attempts).where(a.call_id == call_id).order_by(a.number)
        names = [f.name for f in dataclasses.fields(Attempt)]
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [Attempt(**{n: r._mapping[n] for n in names}) for r in rows]

    def deliveries(
        self, project_id: str, *, call_id: str | None = None, limit: int = 50
    ) -> list[Delivery]:
        w = t.webhook_events.c
        a = t.webhook_attempts.c
        last_status = (
            select(a.status_code)
            .where(a.event_id == w.id)
            .order_by(a.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = select(t.webhook_events, last_status.label("last_status")).where(
            w.project_id == project_id
        )
        if call_id is not None:
            query = query.where(w.call_id == call_id)
        query = query.order_by(w.created_at.desc()).limit(limit)
        with self._read() as conn:
            return [_delivery(r._mapping) for r in conn.execute(query).all()]

    def delivery_attempts(self, project_id: str, call_id: str) -> list[DeliveryAttempt]:
        """The kept requests of the call's webhook event, oldest first."""
        w = t.webhook_events.c
        a = t.webhook_attempts.c
        query = (
            select(a.sent_at, a.duration, a.status_code, a.error)
            .join_from(t.webhook_attempts, t.webhook_events, a.event_id == w.id)
            .where(w.project_id == project_id, w.call_id == call_id)
            .order_by(a.seq)
        )
        with self._read() as conn:
            return [DeliveryAttempt(*r) for r in conn.execute(query).all()]

    def redeliver(self, project_id: str, event_id: str) -> bool:
        """Put a webhook event back in the outbox, due now; False if it is not the project's."""
        w = t.webhook_events.c
        with self._write() as conn:
            return (
                conn.execute(
                    update(t.webhook_events)
                    .where(w.id == event_id, w.project_id == project_id)
                    .values(
                        delivered_at=None,
                        failed_at=None,
                        attempts=0,
                        next_attempt_at=time.time(),
                        last_error="",
                    )
                ).rowcount
                > 0
            )

    def tokens(self, project_id: str) -> list[TokenInfo]:
        k = t.api_tokens.c
        query = (
            select(k.prefix, k.created_at, k.revoked_at)
            .where(k.project_id == project_id)
            .order_by(k.created_at.desc())
        )
        with self._read() as conn:
            return [TokenInfo(*r) for r in conn.execute(query).all()]

    def ledger_page(self, project_id: str, before: int | None, limit: int) -> LedgerPage:
        """Ledger entries newest first, `limit` of them before seq `before`."""
        g = t.ledger.c
        query = select(t.ledger).where(g.project_id == project_id)
        if before is not None:
            query = query.where(g.seq < before)
        query = query.order_by(g.seq.desc()).limit(limit + 1)
        with self._read() as conn:
            rows = conn.execute(query).all()
        names = [f.name for f in dataclasses.fields(LedgerEntry)]
        entries = [LedgerEntry(**{n: r._mapping[n] for n in names}) for r in rows[:limit]]
        return LedgerPage(entries, rows[limit - 1].seq if len(rows) > limit else None)


def _delivery(m: Mapping[Any, Any]) -> Delivery:
    return Delivery(
        id=m["id"],
        call_id=m["call_id"],
        created_at=m["created_at"],
        attempts=m["attempts"],
        delivered_at=m["delivered_at"],
        failed_at=m["failed_at"],
        last_error=m["last_error"],
        last_status=m["last_status"],
        requests_not_kept=m["requests_not_kept"],
    )
