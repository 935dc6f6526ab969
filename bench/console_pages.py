"""Console pages with a million calls (issue 13 item 8): server time per page, p50 and p99.

One project's N calls (default 1,000,000) spread over the last 30 days, a tenth of them with
an answered attempt, are written in bulk into a fresh database (SQLite in a temporary folder
and a PostgreSQL cluster of its own, or the empty database of --database-url) and, on
PostgreSQL, vacuumed and analysed as autovacuum would after such a load; then each page
is requested --rounds times in-process (FastAPI's TestClient, signed in as the project's
owner, then as an operator) and the time from request to the last byte is reported per page,
beside the API's read of one call in the same run (the baseline).

    python -m bench.console_pages [--calls 1000000] [--rounds 50]
        [--backend sqlite|postgresql|both] [--database-url URL]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text

from bench.campaign_import import postgres
from voxcall.api.app import create_app
from voxcall.calls.campaigns import CampaignFields
from voxcall.calls.dialers import new_dialer
from voxcall.config import Settings
from voxcall.domain.users import Role
from voxcall.domain.voices import Voice
from voxcall.runtime import build_services
from voxcall.store import schema as t

BATCH = 20_000
PASSWORD = "bench-password"


def _fill(services: object, project_id: str, voice_id: str, calls: int) -> str:
    """Write the calls in bulk; returns the id of one of them (for the call's page)."""
    store = services.store  # type: ignore[attr-defined]
    now = int(time.time())
    rng = np.random.default_rng(7)
    one = ""
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
                    "id": call_id, "project_id": project_id, "campaign_id": None,
                    "campaign_index": None, "voice_id": voice_id,
                    "national_number": f"09{(start + i) % 10**9:09d}",
                    "e164": f"+989{(start + i) % 10**9:09d}", "dialer_id": None,
                    "status": "NORMAL" if answered else "NO_ANSWER", "phase": "final",
                    "retry_count": 0, "retry_interval": None, "request_date": when,
                    "expires_at": when + 3600, "next_attempt_at": when,
                    "execution_date": when, "attempts": 1, "bill_sec": 9 if answered else 0,
                    "price_milli": 1500 if answered else 0, "reserved_milli": 0,
                    "cause": "", "updated_at": when,
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
        one = rows[0]["id"]
    return str(one)


def _sign_in(client: TestClient, login: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").text)
    assert token is not None
    signed = client.post(
        "/sign-in",
        data={"csrf": token.group(1), "login": login, "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed.status_code == 303


def _timed(client: TestClient, path: str, rounds: int) -> tuple[float, float]:
    """p50 and p99 in ms of `rounds` requests of `path`, to the answer's last byte."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    p50, p99 = np.percentile(times, [50, 99])
    return float(p50), float(p99)


def _vacuum(engine: Engine) -> None:
    """On PostgreSQL, autovacuum's work after a bulk load: the planner's statistics and the
    visibility map that lets a covering index answer without visiting the table. (SQLite is
    left as voxcall leaves it in production, with no statistics.)"""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def run(url: str, data: Path, calls: int, rounds: int) -> None:
    settings = Settings(data, url, 1.0, embedded=True)  # a fresh database: build its schema
    services = build_services(settings)
    services.users.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    services.store.add_dialer(new_dialer("sandbox", "sandbox", "Sandbox", {}))
    project = services.projects.create("bench", rate_limit=100, opening_milli=10**9)
    voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 1.0, 0)
    services.store.add_voice(voice)
    services.users.add_user(project.id, "owner@bench.test", Role.OWNER, PASSWORD)
    services.users.add_operator("admin", PASSWORD)
    began = time.perf_counter()
    call_id = _fill(services, project.id, voice.id, calls)
    _vacuum(services.store.engine)
    backend = url.split(":")[0].split("+")[0]
    print(f"{calls:,} calls written in {time.perf_counter() - began:.0f} s ({backend})")
    campaign = services.campaigns.create(
        project, CampaignFields("spring", voice.id), [f"0912{i:07d}" for i in range(1000)]
    )
    owner_pages = [
        "/overview", "/overview/live", "/calls", "/calls?status=NORMAL",
        "/calls?number=09000000070", f"/calls/{call_id}", "/billing", "/developers",
        "/voices", "/campaigns", f"/campaigns/{campaign.id}", f"/campaigns/{campaign.id}/live",
    ]  # fmt: skip
    operator_pages = [
        "/operator/projects", f"/operator/projects/{project.id}", "/operator/dialers",
        "/operator/dialers/live", "/operator/system",
    ]  # fmt: skip
    app = create_app(services, run_worker=False)
    print(f"{'page (' + backend + ')':40} {'p50 ms':>8} {'p99 ms':>8}")
    with TestClient(app) as client:  # the baseline: the API's read of one call
        client.headers["authorization"] = f"Bearer {services.projects.issue_token(project)}"
        p50, p99 = _timed(client, f"/api/v2/voice/status/{call_id}", rounds)
        print(f"{'(API) /api/v2/voice/status/{id}':40} {p50:8.1f} {p99:8.1f}")
    for login, pages in (("owner@bench.test", owner_pages), ("admin", operator_pages)):
        with TestClient(app) as client:
            _sign_in(client, login)
            for path in pages:
                p50, p99 = _timed(client, path, rounds)
                label = re.sub(r"[0-9a-f]{32}", "{id}", path)
                print(f"{label:40} {p50:8.1f} {p99:8.1f}")
    services.store.close()
    services.audio.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--database-url", default=None, help="an empty database of your own")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        if args.database_url:
            run(args.database_url, data, args.calls, args.rounds)
            return
        if args.backend in ("sqlite", "both"):
            run(f"sqlite:///{data / 'voxcall.db'}", data, args.calls, args.rounds)
        if args.backend in ("postgresql", "both"):
            with postgres() as url:
                run(url, Path(folder) / "pg-data", args.calls, args.rounds)


if __name__ == "__main__":
    main()
