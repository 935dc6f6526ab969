"""Sign-in throttling holds across API processes: two apps on one database (SQLite and
PostgreSQL) count the same failures, per account and per address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from tests.console.conftest import PASSWORD, Browser
from voxcall.api.app import create_app
from voxcall.calls import sign_in_throttle as throttle
from voxcall.config import Settings
from voxcall.domain.users import Role
from voxcall.runtime import Services, build_services


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'voxcall.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def two_processes(database_url: str, tmp_path: Path) -> Iterator[tuple[Services, Services]]:
    """Two API processes' services on one database, on one (fake) wall clock."""
    clock = Clock()
    pair = []
    for name in ("one", "two"):
        services = build_services(Settings(tmp_path / name, database_url, 100.0))
        services.users.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        services.sign_ins.clock = clock
        pair.append(services)
    yield pair[0], pair[1]
    for services in pair:
        services.store.close()
        services.audio.shutdown()


def test_failures_in_one_process_slow_sign_ins_in_the_other(
    two_processes: tuple[Services, Services],
) -> None:
    one, two = two_processes
    project = one.projects.create("acme", rate_limit=10)
    one.users.add_user(project.id, "ann@acme.test", Role.OWNER, PASSWORD)
    one.users.add_user(project.id, "bob@acme.test", Role.MEMBER, PASSWORD)
    with (
        TestClient(create_app(one, run_worker=False)) as first,
        TestClient(create_app(two, run_worker=False)) as second,
    ):
        browsers = [Browser(first), Browser(second)]
        for i in range(throttle.FREE_FAILURES):
            assert browsers[i % 2].sign_in("ann@acme.test", "wrong password") == 401
        for browser in browsers:
            assert browser.sign_in("ann@acme.test") == 429  # even the right password waits
            assert browser.sign_in("bob@acme.test") == 429  # the same address waits too
        assert isinstance(one.sign_ins.clock, Clock)
        one.sign_ins.clock.now += throttle.FIRST_WAIT
        assert browsers[1].sign_in("ann@acme.test") == 303
