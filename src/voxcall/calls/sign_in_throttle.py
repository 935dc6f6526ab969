"""Slowing repeated failed sign-ins, per account and per address, across every process on
the database (the failures are counted in the store).

A few failures are free; after them each further try of the same account or from the same
address must wait twice as long as the one before, up to MAX_WAIT. A success clears the
account's count (not the address's: one good password must not unlock guessing others)."""

from __future__ import annotations

import time
from collections.abc import Callable

from voxcall.store.store import Store

FREE_FAILURES = 5
FIRST_WAIT = 1.0  # seconds, doubled with each failure past the free ones
MAX_WAIT = 900.0
FORGET_AFTER = 3600.0  # a key with no failure for this long starts afresh
MAX_KEY = 300  # characters of a key kept: a login is the user's text


def wait_after(count: int, last: float, now: float) -> float:
    """Seconds still to wait at `now` after `count` failures, the last at `last`."""
    if now - last > FORGET_AFTER:
        return 0.0
    extra = count - FREE_FAILURES  # 0 at the last free failure: wait once
    if extra < 0:
        return 0.0
    wait = min(MAX_WAIT, FIRST_WAIT * 2.0 ** min(extra, 20))
    return max(0.0, last + wait - now)


def _account(account: str) -> str:
    return f"a:{account.lower()}"[:MAX_KEY]


def _address(address: str) -> str:
    return f"i:{address}"[:MAX_KEY]


class SignInThrottle:
    # Wall-clock time: processes (and machines) compare the instants they write.
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def wait(self, account: str, address: str) -> float:
        """Seconds before this account may be tried from this address (0: now)."""
        now = self.clock()
        failures = self.store.sign_in_failures([_account(account), _address(address)])
        return max((wait_after(n, last, now) for n, last in failures.values()), default=0.0)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        self.store.add_sign_in_failure(
            [_account(account), _address(address)], now, now - FORGET_AFTER
        )

    def succeeded(self, account: str) -> None:
        self.store.clear_sign_in_failures(_account(account))
