"""Group commit of attempt outcomes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from voxcall.calls.outcome_writer import OutcomeWriter
from voxcall.domain.calls import AttemptRecord, CallStatus
from voxcall.store.database import StoreUnavailable


class SlowStore:
    """Counts transactions; each takes 20 ms, like an fsync; the first `failures` fail."""

    def __init__(self, failures: int = 0) -> None:
        self.transactions: list[list[str]] = []
        self.failures = failures

    def finish_attempts(self, outcomes: Sequence[tuple[str, AttemptRecord]]) -> list[bool]:
        time.sleep(0.02)
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("database is locked")
        self.transactions.append([call_id for call_id, _ in outcomes])
        return [True] * len(outcomes)


def _record(i: int) -> AttemptRecord:
    return AttemptRecord(f"a{i}", "ANSWERED", 1.0, 2.0, 1, "", CallStatus.NORMAL, None)


async def test_outcomes_that_end_together_share_a_transaction() -> None:
    store = SlowStore()
    writer = OutcomeWriter(store, giving_up=lambda _: False)
    await asyncio.gather(*(writer.write(f"c{i}", _record(i)) for i in range(100)))
    committed = [c for batch in store.transactions for c in batch]
    assert sorted(committed) == sorted(f"c{i}" for i in range(100))
    assert len(store.transactions) <= 3  # the first alone, then the rest in one or two


async def test_a_cancelled_caller_still_gets_its_outcome_written() -> None:
    store = SlowStore()
    writer = OutcomeWriter(store, giving_up=lambda _: False)
    task = asyncio.create_task(writer.write("c1", _record(1)))
    await asyncio.sleep(0.001)
    task.cancel()
    await writer.drain()
    assert store.transactions == [["c1"]]


async def test_retries_while_the_store_is_down() -> None:
    store = SlowStore(failures=2)
    writer = OutcomeWriter(store, giving_up=lambda _: False)
    await writer.write("c1", _record(1))
    assert store.transactions == [["c1"]]
