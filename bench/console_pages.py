"""Console pages with a million calls (issue 13 item 8): server time per page, p50 and p99.

One project's N calls (default 1,000,000) spread over the last 30 days, a tenth of them with
an answered attempt, are written in bulk into a fresh database (SQLite in a temporary folder
and a PostgreSQL cluster of its own, or the empty database of --database-url) and, on
PostgreSQL, vacuumed and analysed as autovacuum would after such a load; then each page
is requested --rounds times in-process (FastAPI's TestClient, signed in as the project's
owner, then as an operator) and the time from request to the last byte is reported per page,
beside the API's read of one call in the same run (the baseline).

    python -m bench.console_pages [--calls 1000000] [--rounds 50]
        [--backend sqlite|postgresql|both] [--database-url URL] [--check]

--check (CI) exits non-zero when any page's p99 is 200 ms or more on any backend.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from bench.bulk import fill_calls, fresh, timed, vacuum
from bench.campaign_import import postgres
from voxcall.api.app import create_app
from voxcall.calls.campaigns import CampaignFields
from voxcall.domain.users import Role

PASSWORD = "bench-password"
P99_LIMIT_MS = 200.0  # issue 13 item 8: the server time of any page, p99


def _sign_in(client: TestClient, login: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").text)
    assert token is not None
    signed = client.post(
        "/sign-in",
        data={"csrf": token.group(1), "login": login, "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed.status_code == 303


def run(url: str, data: Path, calls: int, rounds: int) -> list[str]:
    """Fill a fresh database at `url` and time every page; returns the pages whose p99 is
    P99_LIMIT_MS or more."""
    loaded = fresh(url, data)
    services, project, voice = loaded.services, loaded.project, loaded.voice
    services.users.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    services.users.add_user(project.id, "owner@bench.test", Role.OWNER, PASSWORD)
    services.users.add_operator("admin", PASSWORD)
    began = time.perf_counter()
    call_id = fill_calls(services.store, project.id, voice.id, calls)
    vacuum(services.store.engine)
    backend = loaded.backend
    print(f"{calls:,} calls written in {time.perf_counter() - began:.0f} s ({backend})")
    campaign = services.campaigns.create(
        project, CampaignFields("spring", voice.id), [f"0912{i:07d}" for i in range(1000)]
    )
    owner_pages = [
        "/overview", "/overview/live", "/calls", "/calls?status=NORMAL",
        "/calls?number=09000000070", f"/calls/{call_id}", "/send", "/billing", "/developers",
        "/users", "/voices", "/dnc", "/campaigns", "/campaigns/live", "/campaigns/new",
        f"/campaigns/{campaign.id}", f"/campaigns/{campaign.id}/live",
    ]  # fmt: skip
    operator_pages = [
        "/operator/projects", f"/operator/projects/{project.id}", "/operator/dialers",
        "/operator/dialers/live", "/operator/dialers/sandbox", "/operator/system",
        "/operator/dnc",
    ]  # fmt: skip
    app = create_app(services, run_worker=False)
    print(f"{'page (' + backend + ')':40} {'p50 ms':>8} {'p99 ms':>8}")
    slow = []
    with TestClient(app) as client:  # the baseline: the API's read of one call
        client.headers["authorization"] = f"Bearer {services.projects.issue_token(project)}"
        p50, p99 = timed(client, f"/api/v2/voice/status/{call_id}", rounds)
        print(f"{'(API) /api/v2/voice/status/{id}':40} {p50:8.1f} {p99:8.1f}")
    for login, pages in (("owner@bench.test", owner_pages), ("admin", operator_pages)):
        with TestClient(app) as client:
            _sign_in(client, login)
            for path in pages:
                p50, p99 = timed(client, path, rounds)
                label = re.sub(r"[0-9a-f]{32}", "{id}", path)
                print(f"{label:40} {p50:8.1f} {p99:8.1f}")
                if p99 >= P99_LIMIT_MS:
                    slow.append(f"{label} ({backend}): p99 {p99:.1f} ms")
    loaded.close()
    return slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--database-url", default=None, help="an empty database of your own")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit non-zero when any page's p99 is {P99_LIMIT_MS:.0f} ms or more (CI)",
    )
    args = parser.parse_args()
    began = time.perf_counter()
    slow = []
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        if args.database_url:
            slow += run(args.database_url, data, args.calls, args.rounds)
        if not args.database_url and args.backend in ("sqlite", "both"):
            slow += run(f"sqlite:///{data / 'voxcall.db'}", data, args.calls, args.rounds)
        if not args.database_url and args.backend in ("postgresql", "both"):
            with postgres() as url:
                slow += run(url, Path(folder) / "pg-data", args.calls, args.rounds)
    print(f"wall time {time.perf_counter() - began:.0f} s")
    for page in slow:
        print(f"over {P99_LIMIT_MS:.0f} ms: {page}", file=sys.stderr)
    if args.check and slow:
        sys.exit(1)


if __name__ == "__main__":
    main()
