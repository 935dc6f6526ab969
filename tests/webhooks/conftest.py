"""A store for the webhook tests: SQLite, or each backend where the leasing SQL matters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from voxcall.calls.dialers import new_dialer
from voxcall.store.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}", create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=100, cps=1000.0))
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store on each backend, for the tests whose outcome depends on its leasing SQL."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    store = Store.open(url, create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=1000, cps=1000.0))
    yield store
    store.close()
