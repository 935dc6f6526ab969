"""The operator's reads over the whole service: dialers' recent attempts, the queue by
class, workers (each an indexed count or a short keyed scan)."""

from __future__ import annotations

from sqlalchemy import case, func, select

from voxcall.domain.calls import AttemptState, Phase
from voxcall.domain.operations import (
    ERROR_LOOKBACK,
    RATE_WINDOW,
    RECENT,
    DialerActivity,
    QueueDepth,
    WorkerInfo,
)
from voxcall.store import schema as t
from voxcall.store.database import Database

a = t.attempts.c
_ERROR = "ERROR"  # AttemptResult.ERROR's value (dialers/ is not imported here)


class Operations(Database):
    def dialer_activity(self, dialer_ids: list[str], now: float) -> dict[str, DialerActivity]:
        """Each dialer's live attempts, and those it started in the last hour (through
        ix_attempts_dialer_started: a range of one dialer's attempts each)."""
        live = a.state == AttemptState.DIALING.value
        found: dict[str, DialerActivity] = {}
        with self._read() as conn:
            busy: dict[str, int] = dict(
                conn.execute(
                    select(a.dialer_id, func.count()).where(live).group_by(a.dialer_id)
                ).all()
            )
            for dialer_id in dialer_ids:
                attempts, answered, last_minute = conn.execute(
                    select(
                        func.count(),
                        func.count(a.answered_at),
                        func.count(case((a.started_at >= now - RATE_WINDOW, 1))),
                    ).where(a.dialer_id == dialer_id, a.started_at >= now - RECENT)
                ).one()
                error = conn.execute(
                    select(a.cause, a.ended_at, a.started_at)
                    .where(
                        a.dialer_id == dialer_id,
                        a.started_at >= now - ERROR_LOOKBACK,
                        a.result == _ERROR,
                    )
                    .order_by(a.started_at.desc())
                    .limit(1)
                ).first()
                found[dialer_id] = DialerActivity(
                    busy=busy.get(dialer_id, 0),
                    attempts=attempts,
                    answered=answered,
                    started_last_minute=last_minute,
                    last_error=error.cause if error else None,
                    last_error_at=(error.ended_at or error.started_at) if error else None,
                )
        return found

    def queue_depth(self) -> QueueDepth:
        """Queued calls by class: no campaign id is a single call, a campaign id that names
        a campaign is a campaign's, any other a batch's."""
        calls = t.calls.c
        kind = case(
            (calls.campaign_id.is_(None), "single"),
            (t.campaigns.c.id.is_not(None), "campaign"),
            else_="batch",
        )
        with self._read() as conn:
            by_kind: dict[str, int] = dict(
                conn.execute(
                    select(kind, func.count())
                    .select_from(
                        t.calls.outerjoin(t.campaigns, t.campaigns.c.id == calls.campaign_id)
                    )
                    .where(calls.phase == Phase.QUEUED.value)
                    .group_by(kind)
                ).all()
            )
            dialing = conn.execute(
                select(func.count()).where(calls.phase == Phase.DIALING.value)
            ).scalar_one()
            pending = conn.execute(
                select(func.count()).where(
                    t.webhook_events.c.delivered_at.is_(None),
                    t.webhook_events.c.failed_at.is_(None),
                )
            ).scalar_one()
        return QueueDepth(
            single=by_kind.get("single", 0),
            batch=by_kind.get("batch", 0),
            campaign=by_kind.get("campaign", 0),
            dialing=dialing,
            pending_webhooks=pending,
        )

    def workers(self) -> list[WorkerInfo]:
        w = t.workers.c
        with self._read() as conn:
            rows = conn.execute(
                select(w.id, w.host, w.pid, w.started_at, w.heartbeat_at).order_by(w.started_at)
            ).all()
        return [WorkerInfo(r.id, r.host, r.pid, r.started_at, r.heartbeat_at) for r in rows]

    def database_kind(self) -> str:
        return self.engine.dialect.name
