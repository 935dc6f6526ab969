"""Fixtures of the calls tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from voxcall.store.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def admin_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on each backend, for the operator's services (projects, dialers, money):
    their refusals rest on the uniqueness rules each backend enforces."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    store = Store.open(url, create=True)
    yield store
    store.close()
