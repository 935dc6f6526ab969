"""Benchmark 2, dispatch: calls completed per second through the scheduler, the sandbox
dialer infinitely fast, at 1k, 10k and 100k queued calls; against a bare SQLite queue.

voxcall: the calls are queued through `CallService.place` (batches of 100, a priced dialer,
so every call is reserved, debited and written to the ledger as in production) while the
dialer is disabled. Then `voxcall serve` starts with VOXCALL_SANDBOX_SPEED=inf, and the clock
starts when `voxcall dialer enable` lets the scheduler go. The rate is taken from the
database's own times: from the first attempt's start to the last call's final update. The
serve process's CPU over the same window is read from /proc.

Baseline: the least a durable SQLite queue must do per call on this disk, in one thread with
one connection and the same PRAGMAs (WAL, synchronous=FULL): claim due calls in batches of
200 with one UPDATE ... RETURNING plus their attempt rows, then record each call's end in
its own transaction (one fsync per call, as voxcall records each attempt's end).

A run stops after `--cap` seconds (60): at 100k that leaves most calls queued, so the rate is
over the calls completed while the queue was still that deep, which is what the per-call cost
at 100k means here; the table marks such a run "capped".

    python -m bench.dispatch [--sizes 1000,10000,100000] [--cap 60] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.common import (
    VENV_BIN,
    CpuWindow,
    add_serve_option,
    free_port,
    header,
    profile_summary,
    py_spy,
    running,
    self_cpu_seconds,
    table,
    verdict,
    wait_tcp,
)
from bench.intake import test_voice, voxcall
from voxcall.calls.service import CallOptions
from voxcall.config import Settings
from voxcall.runtime import build_services
from voxcall.store import schema
from voxcall.store.store import Store

BATCH = 100  # numbers per CallService.place, the API's batch limit
CLAIM = 200  # the baseline's claim batch (the scheduler's CLAIM_BATCH)
CHANNELS = 1000  # the dialer's channels: never the limit with an instant sandbox
TARGET_RATE = 1000.0
TARGET_GROWTH = 1.3


@dataclass
class Run:
    who: str
    queued: int
    completed: int
    seconds: float  # first claim to last final write
    cpu: float  # CPU seconds of the dispatching process over the run
    capped: bool = False

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * self.cpu / self.completed if self.completed else float("nan")


def numbers(count: int) -> list[str]:
    # National mobile numbers, none ending in the sandbox's special 0001-0005.
    return [f"0912{(i // 9000) % 1000:03d}{i % 9000 + 1000:04d}" for i in range(count)]


def queue_calls(data: Path, count: int, projects: Sequence[str] = ("bench",)) -> None:
    """Projects, a priced sandbox dialer (disabled after queueing) and `count` calls of each
    project."""
    created = {
        name: json.loads(
            voxcall(data, "project", "create", name, "--json", "--balance", "1000000000000")
        )
        for name in projects
    }
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    voxcall(
        data,
        "dialer",
        "update",
        "sandbox",
        "--price-per-minute",
        "600",
        "--channels",
        str(CHANNELS),
        "--cps",
        "1000000",
    )
    services = build_services(Settings(data.resolve(), database_url(data), sandbox_speed=1.0))
    try:
        batch = numbers(count)
        for name, made in created.items():
            project = services.store.project_by_name(name)
            assert project is not None and project.id == made["id"]
            voice = services.voices.upload(project, test_voice(), name="bench", filename="b.wav")
            for start in range(0, count, BATCH):
                services.calls.place(
                    project, batch[start : start + BATCH], voice.id, CallOptions(), batch=True
                )
    finally:
        services.store.close()
    voxcall(data, "dialer", "disable", "sandbox")


def database_url(data: Path) -> str:
    return f"sqlite:///{data.resolve() / 'voxcall.db'}"


def run_voxcall(
    work: Path, count: int, *, cap: float, profile: Path | None, serve_command: str
) -> tuple[Run, dict[str, int]]:
    data = work / f"vx-{count}"
    queue_calls(data, count)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXCALL_")}
    env["VOXCALL_SANDBOX_SPEED"] = "inf"
    serve = serve_command.format(venv=VENV_BIN, data=data, port=port).split()
    store = Store.open(database_url(data))
    capped = False
    try:
        with running(serve, log=work / f"serve-{count}.log", env=env) as vx:
            wait_tcp(port, vx)
            cpu = CpuWindow(vx.pid)
            spy = None
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
                spy = py_spy(vx.pid, min(cap, 30), profile / f"dispatch-voxcall-{count}.txt")
            cpu.start()
            voxcall(data, "dialer", "enable", "sandbox")
            deadline = time.monotonic() + cap
            while True:
                time.sleep(0.5)
                counts = store.count_calls()
                if counts.get("WAITING", 0) == 0:
                    break
                if time.monotonic() > deadline:
                    capped = True
                    break
            cpu.stop()
            if spy is not None:
                spy.wait()
        with store.engine.connect() as conn:
            first = conn.execute(select(func.min(schema.attempts.c.started_at))).scalar_one()
            last = conn.execute(
                select(func.max(schema.calls.c.updated_at)).where(
                    schema.calls.c.status != "WAITING"
                )
            ).scalar_one()
        counts = store.count_calls()
    finally:
        store.close()
    done = count - counts.get("WAITING", 0)
    seconds = (last - first) if first is not None and last is not None else cpu.wall
    return Run("voxcall", count, done, seconds, cpu.cpu, capped), counts


BASELINE_SCHEMA = """
CREATE TABLE calls (id TEXT PRIMARY KEY, phase TEXT NOT NULL, status TEXT NOT NULL,
    next_attempt_at REAL NOT NULL, attempts INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX ix_calls_due ON calls (phase, next_attempt_at);
CREATE TABLE attempts (id TEXT PRIMARY KEY, call_id TEXT NOT NULL, state TEXT NOT NULL,
    result TEXT, started_at REAL NOT NULL, ended_at REAL);
CREATE UNIQUE INDEX ux_attempts_live ON attempts (call_id) WHERE state = 'dialing';
"""


def run_baseline(work: Path, count: int, *, cap: float) -> Run:
    db = sqlite3.connect(work / f"baseline-{count}.db", isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            db.execute(f"PRAGMA {pragma}")
        db.executescript(BASELINE_SCHEMA)
        now = time.time()
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO calls VALUES (?, 'queued', 'WAITING', ?, 0, ?)",
            ((uuid.uuid4().hex, now, now) for _ in range(count)),
        )
        db.execute("COMMIT")
        cpu0, wall0 = self_cpu_seconds(), time.monotonic()
        done = 0
        while time.monotonic() - wall0 < cap:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            claimed = db.execute(
                "UPDATE calls SET phase = 'dialing', attempts = attempts + 1, updated_at = ? "
                "WHERE id IN (SELECT id FROM calls WHERE phase = 'queued' "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?) RETURNING id",
                (now, now, CLAIM),
            ).fetchall()
            attempts = [(uuid.uuid4().hex, call_id) for (call_id,) in claimed]
            db.executemany(
                "INSERT INTO attempts VALUES (?, ?, 'dialing', NULL, ?, NULL)",
                ((a, c, now) for a, c in attempts),
            )
            db.execute("COMMIT")
            if not attempts:
                break
            for attempt_id, call_id in attempts:  # the dialer answers at once
                ended = time.time()
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "UPDATE attempts SET state = 'done', result = 'ANSWERED', ended_at = ? "
                    "WHERE id = ? AND state = 'dialing'",
                    (ended, attempt_id),
                )
                db.execute(
                    "UPDATE calls SET phase = 'final', status = 'NORMAL', updated_at = ? "
                    "WHERE id = ? AND phase = 'dialing'",
                    (ended, call_id),
                )
                db.execute("COMMIT")
                done += 1
        seconds = time.monotonic() - wall0
        return Run("bare SQLite queue", count, done, seconds, self_cpu_seconds() - cpu0)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="queued calls per run")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds at most per run")
    parser.add_argument("--profile", type=Path, help="py-spy voxcall's runs here")
    add_serve_option(parser)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    runs: list[tuple[Run, Run]] = []
    outcomes: dict[int, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="voxcall-bench-dispatch-") as folder:
        work = Path(folder)
        for count in sizes:
            vx, outcomes[count] = run_voxcall(
                work, count, cap=args.cap, profile=args.profile, serve_command=args.serve
            )
            base = run_baseline(work, count, cap=args.cap)
            runs.append((vx, base))
            print(f"# {count:,} queued: voxcall {vx.rate:,.0f}/s, baseline {base.rate:,.0f}/s")
    report(args, runs, outcomes, sizes)


def report(
    args: argparse.Namespace,
    runs: list[tuple[Run, Run]],
    outcomes: dict[int, dict[str, int]],
    sizes: list[int],
) -> None:
    print(header("Dispatch: calls completed per second", "python -m bench.dispatch"))
    rows: list[list[object]] = []
    for vx, base in runs:
        for run in (vx, base):
            rows.append(
                [
                    f"{run.queued:,}",
                    run.who,
                    f"{run.completed:,}" + (" (capped)" if run.capped else ""),
                    run.seconds,
                    run.rate,
                    1000 / run.rate if run.rate else float("nan"),
                    run.cpu_ms_per_call,
                ]
            )
        rows.append([f"{vx.queued:,}", "voxcall / baseline", "", "", f"{vx.rate / base.rate:.2f}"])
    print(
        table(
            ["queued", "who", "completed", "seconds", "calls/s", "ms per call", "CPU ms per call"],
            rows,
        )
    )
    print()
    for count in sizes:
        print(f"voxcall outcomes at {count:,}: {outcomes[count]}")
    small, large = runs[0][0], runs[-1][0]
    growth = (1 / large.rate) / (1 / small.rate) if large.rate and small.rate else float("inf")
    base_growth = (1 / runs[-1][1].rate) / (1 / runs[0][1].rate)
    lowest = min(vx.rate for vx, _ in runs)
    print()
    print(
        table(
            ["figure", "voxcall", "baseline", "target", "verdict"],
            [
                [
                    "lowest calls/s",
                    lowest,
                    min(b.rate for _, b in runs),
                    f">= {TARGET_RATE:,.0f}",
                    verdict(lowest >= TARGET_RATE),
                ],
                [
                    f"per-call time at {large.queued:,} / at {small.queued:,}",
                    f"{growth:.2f}x",
                    f"{base_growth:.2f}x",
                    f"<= {TARGET_GROWTH}x",
                    verdict(growth <= TARGET_GROWTH),
                ],
            ],
        )
    )
    if args.profile is not None:
        for count in sizes:
            out = args.profile / f"dispatch-voxcall-{count}.txt"
            if out.exists():
                print(f"\nProfile of voxcall serve, {count:,} queued (py-spy, {out}):\n")
                print(profile_summary(out))


if __name__ == "__main__":
    main()
