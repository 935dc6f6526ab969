"""A fresh database with a million calls written in bulk, and the timing of pages read from
it in-process: what the console and campaign page benchmarks share.

The calls spread over the last 30 days, a tenth of them answered (NORMAL, 9 billed seconds,
1,500 milli-Toman) and the rest NO_ANSWER, each with its one attempt; on PostgreSQL the
database is then vacuumed and analysed as autovacuum would after such a load.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text

from voxcall.calls.dialers import new_dialer
from voxcall.config import Settings
from voxcall.domain.calls import CallClass, lane_of
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.runtime import Services, build_services
from voxcall.store import schema as t
from voxcall.store.store import Store

BATCH = 20_000


@dataclass(frozen=True, slots=True)
class Loaded:
    """A fresh database's services, with a sandbox dialer and one project and voice."""

    services: Services
    project: Project
    voice: Voice

    @property
    def backend(self) -> str:
        return self.services.store.engine.dialect.name

    def close(self) -> None:
        self.services.store.close()
        self.services.audio.shutdown()


def fresh(url: str, data: Path) -> Loaded:
    settings = Settings(data, url, 1.0, embedded=True)  # a fresh database: build its schema
    services = build_services(settings)
    services.store.add_dialer(new_dialer("sandbox", "sandbox", "Sandbox", {}))
    project = services.projects.create("bench", rate_limit=100, opening_milli=10**9)
    voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 1.0, 0)
    services.store.add_voice(voice)
    return Loaded(services, project, voice)


def fill_calls(
    store: Store, project_id: str, voice_id: str, calls: int, *, campaign_id: str | None = None
) -> str:
    """Write the calls in bulk; returns the id of one of them. With `campaign_id`, they are
    that campaign's calls, its list's positions 0 to `calls` - 1 in order."""
    now = int(time.time())
    rng = np.random.default_rng(7)
    one = ""
    call_class = CallClass.CAMPAIGN if campaign_id else CallClass.SINGLE
    lane = lane_of(call_class, project_id, campaign_id)
    for start in range(0, calls, BATCH):
        n = min(BATCH, calls - start)
        dates = now - rng.integers(0, 30 * 86400, n)
        rows, attempts = [], []
        for i in range(n):
            call_id = uuid.uuid4().hex
            answered = (start + i) % 10 == 0
            when = int(dates[i])
            rows.append(
                {
                    "id": call_id, "project_id": project_id, "campaign_id": campaign_id,
                    "campaign_index": start + i if campaign_id else None, "voice_id": voice_id,
                    "national_number": national_number(start + i),
                    "e164": f"+989{(start + i) % 10**9:09d}", "dialer_id": None,
                    "status": "NORMAL" if answered else "NO_ANSWER", "phase": "final",
                    "retry_count": 0, "retry_interval": None, "request_date": when,
                    "expires_at": when + 3600, "next_attempt_at": when,
                    "execution_date": when, "attempts": 1, "bill_sec": 9 if answered else 0,
                    "price_milli": 1500 if answered else 0, "reserved_milli": 0,
                    "cause": "", "updated_at": when, "call_class": call_class.value,
                    "lane": lane,
                }
            )  # fmt: skip
            attempts.append(
                {
                    "id": uuid.uuid4().hex, "call_id": call_id, "number": 1,
                    "dialer_id": "sandbox", "worker_id": None, "state": "done",
                    "result": "ANSWERED" if answered else "NO_ANSWER", "started_at": when,
                    "answered_at": when + 3 if answered else None, "ended_at": when + 12,
                    "bill_sec": 9 if answered else 0, "cause": "",
                }
            )  # fmt: skip
        with store.engine.begin() as conn:
            conn.execute(insert(t.calls), rows)
            conn.execute(insert(t.attempts), attempts)
        one = str(rows[0]["id"])
    return one


def national_number(index: int) -> str:
    """The number of the `index`-th call written."""
    return f"09{index % 10**9:09d}"


def vacuum(engine: Engine) -> None:
    """On PostgreSQL, autovacuum's work after a bulk load: the planner's statistics and the
    visibility map that lets a covering index answer without visiting the table. (SQLite is
    left as voxcall leaves it in production, with no statistics.)"""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def timed(client: TestClient, path: str, rounds: int) -> tuple[float, float]:
    """p50 and p99 in ms of `rounds` requests of `path`, to the answer's last byte."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    p50, p99 = np.percentile(times, [50, 99])
    return float(p50), float(p99)
