"""What the operator watches: every dialer with its channels in use, pace, answer rate and
last error; the call queue by class, the workers' heartbeats, the webhook backlog and
whether the database answers."""

from __future__ import annotations

from dataclasses import dataclass

from voxcall import __version__
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.operations import DialerActivity, QueueDepth, WorkerInfo
from voxcall.store.database import StoreUnavailable
from voxcall.store.store import Store


@dataclass(frozen=True, slots=True)
class DialerSeen:
    config: DialerConfig
    activity: DialerActivity


@dataclass(frozen=True, slots=True)
class SystemSeen:
    database: str  # the dialect ("sqlite", "postgresql")
    database_up: bool
    version: str
    queue: QueueDepth | None  # None: the database did not answer
    workers: list[WorkerInfo]


class OperationsService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def dialers(self, now: float) -> list[DialerSeen]:
        configs = self.store.list_dialers()
        activity = self.store.dialer_activity([d.id for d in configs], now)
        return [DialerSeen(d, activity.get(d.id, DialerActivity())) for d in configs]

    def system(self) -> SystemSeen:
        database = self.store.database_kind()
        try:
            queue = self.store.queue_depth()
            workers = self.store.workers()
        except StoreUnavailable:
            return SystemSeen(database, False, __version__, None, [])
        return SystemSeen(database, True, __version__, queue, workers)
