"""Waiting out a failure that may pass (the store is unreachable, its file is locked): waits
that double after each failure in a row, and the loop that tries again after each wait.

The one rule for every loop around store errors (the outcome writer, the worker's
registration, the webhook lease rounds), so that none grows its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class Backoff:
    """`first` after one failure, twice that after two in a row, and so on up to `cap`."""

    first: float
    cap: float
    _wait: float | None = field(default=None, init=False)

    def failed(self) -> float:
        """Count one more failure in a row; the wait before the next try."""
        self._wait = self.first if self._wait is None else min(self._wait * 2, self.cap)
        return self._wait

    def succeeded(self) -> None:
        """The next failure starts again from `first`."""
        self._wait = None


async def retry(
    attempt: Callable[[], Awaitable[T]],
    backoff: Backoff,
    *,
    transient: type[Exception],
    keep_trying: Callable[[Exception, float], bool],
) -> T:
    """`attempt()`'s result, trying again while it raises `transient`.

    After each such failure `keep_trying(error, wait)` (which says what failed) decides: True
    waits `wait` seconds and tries again, False gives up and the failure is raised.
    """
    while True:
        try:
            return await attempt()
        except transient as error:
            wait = backoff.failed()
            if not keep_trying(error, wait):
                raise
            await asyncio.sleep(wait)
