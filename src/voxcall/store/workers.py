"""Workers: the processes that place calls, each holding a lease it renews by heartbeat.

A worker silent past its lease is dead: the attempts it held are closed as UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, insert, select, update

from voxcall.domain.calls import AttemptState, outcome_unknown
from voxcall.store import schema as t
from voxcall.store.call_queue import abandon
from voxcall.store.database import Database


class Workers(Database):
    """The live workers, and what becomes of the attempts of one that died."""

    def register_worker(self, worker_id: str, *, host: str, pid: int, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                insert(t.workers).values(
                    id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now
                )
            )

    def heartbeat(self, worker_id: str, now: float) -> bool:
        """Renew the worker's lease. False: it was declared dead and must stop dialing."""
        with self._write() as conn:
            result = conn.execute(
                update(t.workers).where(t.workers.c.id == worker_id).values(heartbeat_at=now)
            )
        return result.rowcount == 1

    def unregister_worker(self, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(t.workers.delete().where(t.workers.c.id == worker_id))

    def reap_dead_workers(self, now: float, lease: float) -> int:
        """Workers silent for longer than `lease` are dead: their live attempts become
        UNKNOWN (their channels free again) and their rows go. Returns the calls closed."""
        with self._write() as conn:
            dead = [
                r.id
                for r in conn.execute(
                    select(t.workers.c.id).where(t.workers.c.heartbeat_at < now - lease)
                ).all()
            ]
            closed = 0
            if dead:
                closed = abandon(
                    conn,
                    and_(
                        t.attempts.c.state == AttemptState.DIALING.value,
                        t.attempts.c.worker_id.in_(dead),
                    ),
                    outcome_unknown("its worker stopped answering"),
                )
                conn.execute(t.workers.delete().where(t.workers.c.id.in_(dead)))
        return closed

    def live_workers(self) -> list[Mapping[str, Any]]:
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.workers)).all()]
