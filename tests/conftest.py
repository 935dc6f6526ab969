"""Shared fixtures: a voxcall app on a temporary SQLite store, and a project with a token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvloop
from fastapi.testclient import TestClient
from hypothesis import settings

from tests.audio.samples import encode, tone
from voxcall.api.app import create_app
from voxcall.calls.dialers import new_dialer
from voxcall.config import Settings
from voxcall.domain.projects import Project
from voxcall.runtime import Services, build_services
from voxcall.store.store import Store
from voxcall.tokens import new_token

# Property tests check results, not speed: on a loaded 2-core machine an example can take
# longer than hypothesis's default 200 ms deadline without anything being wrong.
settings.register_profile("voxcall", deadline=None)
settings.load_profile("voxcall")

# Real peers (SIPp, baresip, kamailio, PostgreSQL) started on 127.0.0.1 by fixtures.
pytest_plugins = [
    "tests.peers.sipp",
    "tests.peers.baresip",
    "tests.peers.kamailio",
    "tests.peers.postgres",
]


# SIP, RTP and the scheduler run on both loops: `voxcall serve` runs uvloop, and a fault that
# only one loop shows (uvloop drops a socket from its poll set on POLLERR) must fail a test.
# Everything else runs on uvloop, the loop users run.
_BOTH_LOOPS = ("dialers", "calls")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    parts = item.path.relative_to(config.rootpath).parts
    if len(parts) > 1 and parts[0] == "tests" and parts[1] in _BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'data' / 'voxcall.db'}",
        sandbox_speed=100.0,
    )


def settings_on(request: pytest.FixtureRequest, tmp_path: Path, **extra: Any) -> Settings:
    """Settings of a fixture parametrized over "sqlite" and "postgresql": a fresh SQLite file
    (embedded) or the test's PostgreSQL database, created."""
    data = tmp_path / "data"
    if request.param == "sqlite":
        url = f"sqlite:///{data / 'voxcall.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        Store.open(url, create=True).close()
    return Settings(
        data_dir=data,
        database_url=url,
        sandbox_speed=100.0,
        embedded=request.param == "sqlite",
        **extra,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = build_services(settings)
    services.store.add_dialer(new_dialer("sandbox", "sandbox", "Sandbox", {}, is_default=True))
    yield services
    services.store.close()


@dataclass
class Tenant:
    project: Project
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_tenant(services: Services, name: str) -> Tenant:
    project = services.store.create_project(name, rate_limit=1000, allowed_regions=["IR"])
    token = new_token()
    services.store.add_token(project.id, prefix=token.prefix, token_hash=token.token_hash)
    return Tenant(project, token.token)


@pytest.fixture
def tenant(services: Services) -> Tenant:
    return make_tenant(services, "acme")


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """The app without its scheduler: calls stay queued."""
    with TestClient(create_app(services, run_worker=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def voice_mp3() -> bytes:
    return encode(tone(1.5, 440.0, rate=44100, channels=1), 44100, 1, "mp3")
