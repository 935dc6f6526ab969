"""A fresh database with a million calls written in bulk, and the timing of pages read from
it in-process: what the console and campaign page benchmarks share.

The calls spread over the last 30 days, a tenth of them answered (NORMAL, 9 billed seconds,
1,500 milli-Toman) and the rest NO_ANSWER, each with its one attempt, written as plain tuples
in one transaction (SQLite: executemany, without journal or sync for the load alone;
PostgreSQL: COPY); on PostgreSQL the database is then vacuumed and analysed as autovacuum
would after such a load.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from voxcall.calls.dialers import new_dialer
from voxcall.config import Settings
from voxcall.domain.calls import CallClass, lane_of
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.runtime import Services, build_services
from voxcall.store import overview_counts
from voxcall.store.store import Store

BATCH = 20_000  # numbers of a generated campaign list handed on at a time (campaign_pages)
CALL_COLUMNS = (
    "id", "project_id", "campaign_id", "campaign_index", "voice_id", "national_number",
    "e164", "status", "phase", "retry_count", "request_date", "expires_at", "next_attempt_at",
    "execution_date", "attempts", "bill_sec", "price_milli", "reserved_milli", "cause",
    "updated_at", "call_class", "lane",
)  # fmt: skip
ATTEMPT_COLUMNS = (
    "id", "call_id", "number", "dialer_id", "state", "result", "started_at", "answered_at",
    "ended_at", "bill_sec", "cause",
)  # fmt: skip
Rows = list[tuple[object, ...]]


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
    # No request of the measure may meet the project's rate limit (429).
    project = services.projects.create("bench", rate_limit=100_000, opening_milli=10**9)
    voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 1.0, 0)
    services.store.add_voice(voice)
    return Loaded(services, project, voice)


def fill_calls(
    store: Store, project_id: str, voice_id: str, calls: int, *, campaign_id: str | None = None
) -> str:
    """Write the calls in bulk; returns the id of one of them. With `campaign_id`, they are
    that campaign's calls, its list's positions 0 to `calls` - 1 in order."""
    call_rows, attempt_rows = _rows(project_id, voice_id, calls, campaign_id)
    if store.engine.dialect.name == "sqlite":
        _load_sqlite(store.engine, call_rows, attempt_rows)
    else:
        _load_postgres(store.engine, call_rows, attempt_rows)
    with store.engine.begin() as conn:  # what the calls' ends would have counted
        overview_counts.recount(conn)
    return str(call_rows[0][0])


def _rows(project_id: str, voice_id: str, calls: int, campaign_id: str | None) -> tuple[Rows, Rows]:
    """The calls and their attempts as tuples in CALL_COLUMNS and ATTEMPT_COLUMNS order."""
    now = int(time.time())
    rng = np.random.default_rng(7)
    dates = (now - rng.integers(0, 30 * 86400, calls)).tolist()
    ids = rng.bytes(32 * calls).hex()  # two random 32-digit hex ids per call
    call_class = CallClass.CAMPAIGN if campaign_id else CallClass.SINGLE
    lane = lane_of(call_class, project_id, campaign_id)
    call_rows, attempt_rows = [], []
    for i, when in enumerate(dates):
        call_id, attempt_id = ids[64 * i : 64 * i + 32], ids[64 * i + 32 : 64 * i + 64]
        answered = i % 10 == 0
        status, bill_sec = ("NORMAL", 9) if answered else ("NO_ANSWER", 0)
        call_rows.append(
            (
                call_id, project_id, campaign_id, i if campaign_id else None, voice_id,
                national_number(i), f"+989{i % 10**9:09d}", status, "final", 0, when,
                when + 3600, when, when, 1, bill_sec, 1500 if answered else 0, 0, "", when,
                call_class.value, lane,
            )
        )  # fmt: skip
        attempt_rows.append(
            (
                attempt_id, call_id, 1, "sandbox", "done",
                "ANSWERED" if answered else "NO_ANSWER", when,
                when + 3 if answered else None, when + 12, bill_sec, "",
            )
        )  # fmt: skip
    return call_rows, attempt_rows


def _load_sqlite(engine: Engine, calls: Rows, attempts: Rows) -> None:
    """One transaction of executemany over plain tuples on a connection of the bench's own,
    with no journal and no sync (the bench's load only; voxcall's connections keep WAL and
    FULL): the pool is emptied first so that the journal mode may change."""
    engine.dispose()
    database = engine.url.database
    assert database is not None
    with closing(sqlite3.connect(database, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB: the indexes stay in memory
        conn.execute("BEGIN")
        for table, columns, rows in (("calls", CALL_COLUMNS, calls),
                                     ("attempts", ATTEMPT_COLUMNS, attempts)):  # fmt: skip
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")


def _load_postgres(engine: Engine, calls: Rows, attempts: Rows) -> None:
    """One COPY per table, in one transaction."""
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with driver.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")  # voxcall's limit is for requests
            for table, columns, rows in (("calls", CALL_COLUMNS, calls),
                                         ("attempts", ATTEMPT_COLUMNS, attempts)):  # fmt: skip
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        driver.commit()


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
    """p50 and p99 in ms of `rounds` requests of `path`, to the answer's last byte, after
    one request not counted (the first after the bulk load finds cold caches)."""
    wall, _ = sampled(client, path, rounds)
    p50, p99 = np.percentile(wall, [50, 99])
    return float(p50), float(p99)


def sampled(client: TestClient, path: str, rounds: int) -> tuple[list[float], list[float]]:
    """Each of `rounds` requests of `path` after an uncounted one: its time to the answer's
    last byte and the CPU this process spent on it (client and server, every thread: other
    processes' load slows the first but adds nothing to the second), both in ms."""
    assert client.get(path).status_code == 200, path
    wall, cpu = [], []
    for _ in range(rounds):
        cpu0, start = time.process_time(), time.perf_counter()
        answer = client.get(path)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - cpu0) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return wall, cpu
