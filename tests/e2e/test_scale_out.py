"""Scale out on PostgreSQL: 2 API nodes, 2 workers, one sandbox trunk of 5 channels, 2,000
calls, and one worker killed with -9 mid-run."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.audio.samples import encode, tone
from tests.e2e.server import Server, voxcall, voxcall_json
from voxcall.domain.calls import AttemptState
from voxcall.store.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.peers]

CALLS = 2000
CHANNELS = 5
LEASE = 3.0


def _max_concurrency(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    live = most = 0
    for _, step in edges:  # at equal times an end (-1) sorts before a start (+1)
        live += step
        most = max(most, live)
    return most


def test_two_apis_two_workers_one_killed(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXCALL_DATABASE_URL", postgres_url)
    data = tmp_path / "data"
    cdr = tmp_path / "cdr.jsonl"
    voxcall(data, "db", "upgrade")
    voxcall(data, "dialer", "add", "trunk", "--driver", "sandbox", "--default",
            "--channels", str(CHANNELS), "--cps", "1000", "--cdr-file", str(cdr))  # fmt: skip
    project = voxcall_json(data, "project", "create", "acme")
    voxcall(data, "project", "update", "acme", "--rate-limit", "10000")
    env = {"VOXCALL_WORKER_LEASE": str(LEASE)}
    apis = [Server(data, speed=40, role="api", env=env, name=f"api{i}") for i in range(2)]
    workers = [Server(data, speed=40, role="worker", env=env, name=f"worker{i}") for i in range(2)]
    for process in apis + workers:
        process.start()
    store = Store.open(postgres_url)
    killed_at = 0.0
    accepted: list[str] = []
    try:
        clients = [api.client(project["token"], timeout=30) for api in apis]
        wav = encode(tone(1.0, rate=8000, channels=1), 8000, 1, "wav")
        voice = clients[0].post("/api/v2/file/voice", files={"file": ("t.wav", wav)}).json()
        voice_id = voice["result"]["id"]
        for batch in range(CALLS // 100):
            # last four digits 1000-1099: no sandbox scenario, every call is answered
            numbers = [f"0912{batch:03d}{1000 + i:04d}" for i in range(100)]
            body = {"phoneNumbers": numbers, "voiceId": voice_id, "retryCount": 0}
            response = clients[batch % 2].post("/api/v2/voice/batch", json=body)
            assert response.status_code == 200, response.text
            accepted += [c["id"] for c in response.json()["result"]]
        # both workers are taking calls; kill one of them mid-run
        deadline = time.monotonic() + 60
        while sum(store.count_calls().get(s, 0) for s in ("NORMAL",)) < CALLS // 4:
            assert time.monotonic() < deadline, store.count_calls()
            time.sleep(0.1)
        workers[0].kill()
        killed_at = time.time()
        deadline = time.monotonic() + 240
        while store.count_calls().get("WAITING"):
            assert time.monotonic() < deadline, store.count_calls()
            time.sleep(0.2)
    finally:
        for process in apis + workers:
            process.stop()
        counts = store.count_calls()
        rows_by_call = {call_id: store.attempts_of(call_id) for call_id in accepted}
        store.close()

    assert sum(counts.values()) == CALLS == len(set(accepted))
    # only the killed worker's live calls (one trunk of 5 channels) can be UNKNOWN
    assert counts.get("NORMAL", 0) + counts.get("UNKNOWN", 0) == CALLS, counts
    assert counts.get("UNKNOWN", 0) <= CHANNELS
    attempts = 0
    for rows in rows_by_call.values():
        assert len(rows) == 1, rows  # retryCount 0: never attempted twice
        assert rows[0]["state"] in (AttemptState.DONE.value, AttemptState.UNKNOWN.value)
        attempts += 1

    # The trunk's own records: never more than 5 calls at once, across both workers.
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    pids = defaultdict(int)
    for line in cdr.read_text().splitlines():
        record = json.loads(line)
        (starts if record["event"] == "start" else ends)[record["attempt"]] = record["t"]
        pids[record["pid"]] += record["event"] == "start"
    assert len(starts) == attempts == CALLS
    assert len(pids) == 2 and min(pids.values()) > 0  # both workers placed calls
    intervals = [(t, ends.get(a, killed_at)) for a, t in starts.items()]
    assert _max_concurrency(intervals) <= CHANNELS
