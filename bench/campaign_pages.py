"""Campaign API pages at a million calls (issue 12 item 8): p50 and p99 per request.

A project's campaign of N numbers (default 1,000,000) is stored as an import stores it (the
list with the campaign in one transaction), every number released and its call written in
bulk by bench/bulk.py (the console benchmark's loader: a tenth NORMAL, the rest NO_ANSWER),
its counts filled as migration 0015 fills them, the campaign done; on PostgreSQL the database
is then vacuumed and analysed. Then, in-process (FastAPI's TestClient with the project's
token), each request --rounds times, time to the last byte:

- `GET /api/v2/campaign/{id}`: the campaign object with its counts and spend (api.md §8);
- `GET /api/v2/campaign/{id}/calls?limit=100`, and `&after=` the call at the start, the
  middle and the end of the list (keyset pages);
- `GET /api/v2/voice/campaign/{id}`: its first 1,000 call objects (the Bitel-style read);
- the baseline: `GET /api/v2/voice/status/{id}`, one call, in the same run.

Target: p99 < 50 ms for the campaign object and its pages of calls. On SQLite (a temporary
folder) and a PostgreSQL cluster of its own, or the empty database of --database-url.

    python -m bench.campaign_pages [--calls 1000000] [--rounds 200]
        [--backend sqlite|postgresql|both] [--database-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from bench.bulk import BATCH, Loaded, fill_calls, fresh, sampled, vacuum
from bench.campaign_import import postgres
from bench.common import header, table, verdict
from voxcall.api.app import create_app
from voxcall.domain.campaigns import CampaignPolicy, NewCampaign, Skips
from voxcall.store import schema as t
from voxcall.store.campaigns import ListBatch

TARGET_MS = 50.0
PAGE = 100
COMMAND = "python -m bench.campaign_pages"


def _list(calls: int) -> list[ListBatch]:
    """The campaign's list, a batch at a time, made before the import so that its COPY does
    not wait for it (PostgreSQL would cancel it at the store's statement timeout)."""
    digits = np.char.zfill(np.arange(calls).astype(str), 9)
    national, e164 = np.char.add("09", digits), np.char.add("+989", digits)
    lines = np.arange(2, calls + 2, dtype=np.int64)
    return [
        ListBatch(lines[i : i + BATCH], national[i : i + BATCH], e164[i : i + BATCH])
        for i in range(0, calls, BATCH)
    ]


def _done_campaign(loaded: Loaded, calls: int) -> str:
    """A campaign whose `calls` numbers were all released and called; its id."""
    store, project = loaded.services.store, loaded.project
    now = int(time.time())
    policy = CampaignPolicy(
        voice_id=loaded.voice.id, dialer_id="sandbox", retry_count=0, retry_interval=None,
        start_at=now - 40 * 86400, end_at=now, window=None, max_channels=None,
        calls_per_minute=None, reservation_milli=0,
    )  # fmt: skip
    campaign = store.create_campaign(
        NewCampaign(uuid.uuid4().hex, project.id, "million", policy, now - 40 * 86400),
        _list(calls),
        lambda: (Skips(), ()),
    )
    fill_calls(store, project.id, loaded.voice.id, calls, campaign_id=campaign.id)
    calls_c = t.calls.c
    with store.engine.begin() as conn:
        conn.execute(
            update(t.campaigns)
            .where(t.campaigns.c.id == campaign.id)
            .values(released=calls, started_at=now - 30 * 86400, finished_at=now)
        )
        if "campaign_counts" in t.metadata.tables:  # absent from a build before the counters
            conn.execute(
                insert(t.campaign_counts).from_select(
                    ["campaign_id", "status", "calls", "price_milli"],
                    select(
                        calls_c.campaign_id,
                        calls_c.status,
                        func.count(),
                        func.sum(calls_c.price_milli),
                    )
                    .where(calls_c.campaign_id == campaign.id)
                    .group_by(calls_c.campaign_id, calls_c.status),
                )
            )
    return campaign.id


def _call_at(loaded: Loaded, campaign_id: str, index: int) -> str:
    with loaded.services.store.engine.connect() as conn:
        return str(
            conn.execute(
                select(t.calls.c.id).where(
                    t.calls.c.campaign_id == campaign_id, t.calls.c.campaign_index == index
                )
            ).scalar_one()
        )


def run(url: str, data: Path, calls: int, rounds: int) -> str:
    loaded = fresh(url, data)
    began = time.perf_counter()
    campaign_id = _done_campaign(loaded, calls)
    vacuum(loaded.services.store.engine)
    written = time.perf_counter() - began
    base = f"/api/v2/campaign/{campaign_id}"
    first_calls = f"/api/v2/voice/campaign/{campaign_id}"
    cursors = {"start": 0, "middle": calls // 2, "end": max(0, calls - PAGE - 1)}
    after = {where: _call_at(loaded, campaign_id, index) for where, index in cursors.items()}
    requests = [
        ("`GET /campaign/{id}` (counts)", base, True),
        (f"`GET /campaign/{{id}}/calls?limit={PAGE}`", f"{base}/calls?limit={PAGE}", True),
        *(
            (
                f"`calls?limit={PAGE}&after=` {where} (index {cursors[where]:,})",
                f"{base}/calls?limit={PAGE}&after={after[where]}",
                True,
            )
            for where in cursors
        ),
        ("`GET /voice/campaign/{id}` (1,000 calls)", first_calls, False),
    ]  # fmt: skip
    app = create_app(loaded.services, run_worker=False)
    rows: list[list[object]] = []
    with TestClient(app) as client:
        token = loaded.services.projects.issue_token(loaded.project)
        client.headers["authorization"] = f"Bearer {token}"
        baseline = f"/api/v2/voice/status/{after['middle']}"
        measured = [("baseline: `GET /voice/status/{id}`", baseline, False), *requests]
        base50 = 0.0
        for label, path, targeted in measured:
            wall, cpu = sampled(client, path, rounds)
            p50, p99 = np.percentile(wall, [50, 99])
            base50 = base50 or p50
            held = verdict(p99 < TARGET_MS) if targeted else "(no target)"
            rows.append([label, p50, p99, p50 / base50, float(np.mean(cpu)), held])
    backend = loaded.backend
    loaded.close()
    return "\n".join(
        [
            f"### {backend}: {calls:,} calls of one campaign (written in {written:.0f} s), "
            f"{rounds} requests each\n",
            table(
                [
                    "request",
                    "p50 ms",
                    "p99 ms",
                    "p50 / baseline p50",
                    "CPU ms (mean)",
                    "p99 < 50 ms",
                ],
                rows,
            ),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--database-url", default=None, help="an empty database of your own")
    args = parser.parse_args()
    print(header("Campaign API pages at a million calls (issue 12)", COMMAND))
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        if args.database_url:
            print(run(args.database_url, data, args.calls, args.rounds))
            return
        if args.backend in ("sqlite", "both"):
            print(run(f"sqlite:///{data / 'voxcall.db'}", data, args.calls, args.rounds))
        if args.backend in ("postgresql", "both"):
            with postgres() as url:
                print(run(url, Path(folder) / "pg-data", args.calls, args.rounds))


if __name__ == "__main__":
    main()
