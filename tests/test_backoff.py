"""Back-off: the waits, and the loop that tries again after them."""

from __future__ import annotations

import pytest

from voxcall.backoff import Backoff, retry


class Flaky(Exception):
    pass


def test_waits_double_up_to_the_cap() -> None:
    backoff = Backoff(first=0.1, cap=0.5)
    assert [backoff.failed() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_a_success_starts_the_waits_again() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    backoff.failed()
    backoff.failed()
    backoff.succeeded()
    assert backoff.failed() == 1.0


def test_a_failure_that_never_ends_keeps_the_cap() -> None:
    """Hours of failures (a doubling exponent would overflow a float after 1,024 of them)."""
    backoff = Backoff(first=0.5, cap=30.0)
    waits = [backoff.failed() for _ in range(5000)]
    assert max(waits) == waits[-1] == 30.0


async def test_retry_tries_again_after_each_transient_failure() -> None:
    failures = [Flaky("locked"), Flaky("gone")]
    told: list[tuple[str, float]] = []

    async def attempt() -> str:
        if failures:
            raise failures.pop(0)
        return "stored"

    def keep_trying(error: Exception, wait: float) -> bool:
        told.append((str(error), wait))
        return True

    backoff = Backoff(first=0.001, cap=0.002)
    assert await retry(attempt, backoff, transient=Flaky, keep_trying=keep_trying) == "stored"
    assert told == [("locked", 0.001), ("gone", 0.002)]


async def test_retry_raises_the_failure_it_gives_up_on() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise Flaky(f"try {calls}")

    def keep_trying(error: Exception, wait: float) -> bool:
        return calls < 3

    with pytest.raises(Flaky, match="try 3"):
        await retry(attempt, Backoff(0.001, 0.001), transient=Flaky, keep_trying=keep_trying)


async def test_retry_lets_other_errors_through_at_once() -> None:
    async def attempt() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        await retry(attempt, Backoff(1.0, 1.0), transient=Flaky, keep_trying=lambda e, w: True)
