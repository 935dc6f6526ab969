"""Group commit of attempt outcomes: the ones that end while a write is in flight share the
next transaction, so a thousand calls ending per second do not cost a thousand fsyncs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from voxcall.backoff import Backoff, retry
from voxcall.domain.calls import AttemptRecord
from voxcall.store.database import StoreUnavailable

log = logging.getLogger("voxcall.scheduler")


class OutcomeStore(Protocol):
    """What the writer needs of the store: record many attempts' ends in one transaction."""

    def finish_attempts(self, outcomes: Sequence[tuple[str, AttemptRecord]]) -> list[bool]: ...


class OutcomeWriter:
    def __init__(self, store: OutcomeStore, *, giving_up: Callable[[float], bool]) -> None:
        self.store = store
        # Asked with the current back-off: True ends the retries (at shutdown). The attempt
        # stays live in the store then, and the next start declares it UNKNOWN.
        self.giving_up = giving_up
        self._pending: list[tuple[str, AttemptRecord, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, call_id: str, record: AttemptRecord) -> None:
        """Return once the outcome is committed; cancelling the caller does not stop it."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((call_id, record, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)

    async def drain(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._commit(batch)
        finally:
            self._flusher = None

    async def _commit(self, batch: list[tuple[str, AttemptRecord, asyncio.Future[None]]]) -> None:
        outcomes = [(call_id, record) for call_id, record, _ in batch]

        def keep_trying(error: Exception, wait: float) -> bool:
            if self.giving_up(wait):
                log.error("giving up recording %d outcome(s) at shutdown", len(batch))
                return False
            log.error("cannot record %d outcome(s) yet: %s", len(batch), error)
            return True

        try:
            await retry(
                lambda: asyncio.to_thread(self.store.finish_attempts, outcomes),
                Backoff(first=0.1, cap=5.0),
                transient=StoreUnavailable,
                keep_trying=keep_trying,
            )
        except StoreUnavailable:
            pass  # given up: see `giving_up`
        for *_, future in batch:
            if not future.done():
                future.set_result(None)
