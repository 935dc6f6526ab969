"""The sign-in throttle on each backend: a few free failures, then a wait that doubles per
failure, per account and per address; a success clears the account; old failures are
forgotten and dropped."""

from __future__ import annotations

from sqlalchemy import func, select

from voxcall.calls import sign_in_throttle as throttle
from voxcall.store import schema
from voxcall.store.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_doubles_its_wait_and_forgets(admin_store: Store) -> None:
    clock = Clock()
    limiter = throttle.SignInThrottle(admin_store, clock=clock)
    for _ in range(throttle.FREE_FAILURES - 1):
        limiter.failed("Ann", "10.0.0.1")
    assert limiter.wait("ann", "10.0.0.2") == 0.0
    limiter.failed("ann", "10.0.0.1")
    assert limiter.wait("ANN", "10.0.0.2") == throttle.FIRST_WAIT  # per account, any case
    assert limiter.wait("bob", "10.0.0.1") == throttle.FIRST_WAIT  # per address
    limiter.failed("ann", "10.0.0.1")
    assert limiter.wait("ann", "10.0.0.9") == 2 * throttle.FIRST_WAIT
    clock.now += 0.5
    assert limiter.wait("ann", "10.0.0.9") == 1.5 * throttle.FIRST_WAIT
    limiter.succeeded("ann")
    assert limiter.wait("ann", "10.0.0.9") == 0.0
    assert limiter.wait("bob", "10.0.0.1") == 1.5 * throttle.FIRST_WAIT
    clock.now += throttle.FORGET_AFTER + 1
    assert limiter.wait("bob", "10.0.0.1") == 0.0
    limiter.failed("eve", "10.0.0.7")  # drops the keys forgotten
    with admin_store.engine.connect() as conn:
        keys = conn.scalars(select(schema.sign_in_failures.c.key)).all()
        assert sorted(keys) == ["a:eve", "i:10.0.0.7"]
        counts = conn.execute(select(func.sum(schema.sign_in_failures.c.count))).scalar()
        assert counts == 2


def test_the_wait_is_capped() -> None:
    assert throttle.wait_after(throttle.FREE_FAILURES + 40, 0.0, 0.0) == throttle.MAX_WAIT
    assert throttle.wait_after(throttle.FREE_FAILURES + 2, 0.0, 1.0) == 4 * throttle.FIRST_WAIT - 1


def test_a_long_login_is_one_key(admin_store: Store) -> None:
    limiter = throttle.SignInThrottle(admin_store, clock=Clock())
    for _ in range(throttle.FREE_FAILURES):
        limiter.failed("x" * 5000, "10.0.0.1")
    assert limiter.wait("x" * 5000, "10.0.0.2") == throttle.FIRST_WAIT
