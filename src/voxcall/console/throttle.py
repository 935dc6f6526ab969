"""Slowing repeated failed sign-ins, per account and per address (in each process).

A few failures are free; after them each further try of the same account or from the same
address must wait twice as long as the one before, up to MAX_WAIT. A success clears the
account's count (not the address's: one good password must not unlock guessing others)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_WAIT = 1.0  # seconds, doubled with each failure past the free ones
MAX_WAIT = 900.0
FORGET_AFTER = 3600.0  # a key with no failure for this long starts afresh
MAX_KEYS = 100_000  # beyond this the oldest keys are forgotten (bounded memory)


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: dict[str, _Failures] = {}

    def _wait(self, key: str, now: float) -> float:
        failures = self._failures.get(key)
        if failures is None or now - failures.last > FORGET_AFTER:
            return 0.0
        extra = failures.count - FREE_FAILURES  # 0 at the last free failure: wait once
        if extra < 0:
            return 0.0
        wait = min(MAX_WAIT, FIRST_WAIT * 2.0 ** min(extra, 20))
        return max(0.0, failures.last + wait - now)

    def wait(self, account: str, address: str) -> float:
        """Seconds before this account may be tried from this address (0: now)."""
        now = self.clock()
        return max(self._wait(f"a:{account.lower()}", now), self._wait(f"i:{address}", now))

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        for key in (f"a:{account.lower()}", f"i:{address}"):
            failures = self._failures.pop(key, None)
            if failures is None or now - failures.last > FORGET_AFTER:
                failures = _Failures(0, now)
            failures.count += 1
            failures.last = now
            self._failures[key] = failures  # re-inserted: the dict stays oldest first
        while len(self._failures) > MAX_KEYS:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, account: str) -> None:
        self._failures.pop(f"a:{account.lower()}", None)
