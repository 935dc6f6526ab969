"""The operator's reads over the whole service: dialers' recent attempts, the queue by
class, workers (each an indexed count or a short keyed range)."""

from __future__ import annotations

from sqlalchemy import case, func, select

from voxcall.domain.calls import AttemptState, CallClass, Phase
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
        """Queued calls by class, calls on a line, webhook events not delivered yet."""
        calls = t.calls.c
        with self._read() as conn:
            by_class: dict[int, int] = dict(
                conn.execute(
                    select(calls.call_class, func.count())
                    .where(calls.phase == Phase.QUEUED.value)
                    .group_by(calls.call_class)
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
            one_time_code=by_class.get(CallClass.ONE_TIME_CODE, 0),
            single=by_class.get(CallClass.SINGLE, 0),
            batch=by_class.get(CallClass.BATCH, 0),
            campaign=by_class.get(CallClass.CAMPAIGN, 0),
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
