"""Benchmark: two projects sharing one dialer (api.md §10 fairness).

Two projects' calls wait on one 10-channel sandbox dialer, queued with the store directly
(bench/priority.py's `queue`), the first project's all before the second's, all due at once:
in the campaign class (each project's one campaign) and in the single class. `voxcall serve`
(uvloop, SQLite) runs with VOXCALL_SANDBOX_SPEED=10, so that 10 minutes of sandbox time pass
in a minute of wall time, counted from the moment every channel is first busy.

A project's share is its channel-seconds over that window: the time its attempts started in
the window held a channel (attempts.ended_at - started_at, in sandbox seconds: the sandbox
reports an end as its start plus the ring and the message) over all projects'. Each run
goes on 30 sandbox seconds past the window, so that every attempt started in it has ended.
The target: each project within 45-55 % while both have
calls waiting. The baseline, in the same run: the ideal 50/50, and the same run with
90,000 and 10,000 calls (the size of the backlog must not buy a larger share).

    python -m bench.fairness [--speed 10] [--minutes 10] [--splits 50000:50000,90000:10000]
        [--classes campaign,single] [--serve ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.common import (
    VENV_BIN,
    add_serve_option,
    free_port,
    header,
    running,
    table,
    verdict,
    wait_tcp,
)
from bench.dispatch import database_url, numbers
from bench.intake import test_voice, voxcall
from bench.priority import busy_channels, queue
from voxcall.config import Settings
from voxcall.domain.calls import CallClass
from voxcall.runtime import build_services
from voxcall.store import schema as t
from voxcall.store.store import Store

CHANNELS = 10
PROJECTS = ("first", "second")  # the first's calls are all queued before the second's
LOW, HIGH = 0.45, 0.55
SETTLE = 30.0  # sandbox seconds: longer than any attempt here (2 s ring, 3 s message)
COMMAND = "python -m bench.fairness"


@dataclass(frozen=True, slots=True)
class Share:
    """What one project got of the window."""

    project: str
    queued: int
    attempts: int  # attempts started in the window
    channel_seconds: float  # sandbox seconds its attempts started in the window held a channel
    waiting: int  # its calls still queued at the window's end


@dataclass(frozen=True, slots=True)
class Run:
    call_class: CallClass
    shares: list[Share]
    window: float  # wall seconds
    speed: float

    def share(self, s: Share) -> float:
        total = sum(x.channel_seconds for x in self.shares)
        return s.channel_seconds / total if total else float("nan")

    @property
    def busy(self) -> float:
        """How full the channels were over the window (1.0: every channel all the time)."""
        held = sum(s.channel_seconds for s in self.shares)
        return held / (CHANNELS * self.window * self.speed)

    @property
    def fair(self) -> bool:
        return all(LOW <= self.share(s) <= HIGH for s in self.shares)


def prepare(data: Path, split: tuple[int, int], call_class: CallClass) -> None:
    """The two projects, the dialer, and each project's queued calls."""
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    voxcall(data, "dialer", "update", "sandbox", "--channels", str(CHANNELS), "--cps", "1000000")
    for name in PROJECTS:
        voxcall(data, "project", "create", name, "--balance", "1000000000000")
    services = build_services(Settings(data.resolve(), database_url(data), sandbox_speed=1.0))
    try:
        listed = numbers(sum(split))
        start = 0
        for name, count in zip(PROJECTS, split, strict=True):
            project = services.store.project_by_name(name)
            assert project is not None
            voice = services.voices.upload(project, test_voice(), name="bench", filename="b.wav")
            queue(services.store, project.id, voice.id, listed[start : start + count], call_class)
            start += count
    finally:
        services.store.close()


def shares(store: Store, split: tuple[int, int], begin: float, end: float) -> list[Share]:
    """Each project's attempts started in [begin, end) and the sandbox seconds they held a
    channel (the sandbox reports an attempt's end in its own time: started_at plus the
    ring and the message, not divided by the speed)."""
    a, c = t.attempts.c, t.calls.c
    attempts = t.attempts.join(t.calls, c.id == a.call_id)
    found = []
    with store.engine.connect() as conn:
        for name, queued in zip(PROJECTS, split, strict=True):
            project = store.project_by_name(name)
            assert project is not None
            started, held = conn.execute(
                select(func.count(), func.coalesce(func.sum(a.ended_at - a.started_at), 0.0))
                .select_from(attempts)
                .where(c.project_id == project.id, a.started_at >= begin, a.started_at < end)
            ).one()
            waiting = conn.execute(
                select(func.count()).where(c.project_id == project.id, c.phase == "queued")
            ).scalar_one()
            found.append(Share(name, queued, started, float(held), waiting))
    return found


def run(
    work: Path,
    split: tuple[int, int],
    call_class: CallClass,
    *,
    speed: float,
    window: float,
    serve_command: str,
) -> Run:
    data = work / f"{call_class.name.lower()}-{split[0]}-{split[1]}"
    prepare(data, split, call_class)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXCALL_")}
    env["VOXCALL_SANDBOX_SPEED"] = f"{speed:g}"
    serve = serve_command.format(venv=VENV_BIN, data=data, port=port).split()
    store = Store.open(database_url(data))
    try:
        with running(serve, log=data / "serve.log", env=env) as vx:
            wait_tcp(port, vx)
            while busy_channels(store) < CHANNELS:
                time.sleep(0.05)
            begin = time.time()
            time.sleep(window)
            end = time.time()
            time.sleep(SETTLE / speed)  # the attempts started before `end` end
        return Run(call_class, shares(store, split, begin, end), end - begin, speed)
    finally:
        store.close()


def report(runs: list[Run], speed: float, minutes: float) -> str:
    rows: list[list[object]] = []
    for r in runs:
        for s in r.shares:
            rows.append(
                [
                    r.call_class.name.lower(),
                    f"{r.shares[0].queued:,} / {r.shares[1].queued:,}",
                    s.project,
                    s.attempts,
                    s.channel_seconds,
                    100 * r.share(s),
                    s.waiting,
                    f"{100 * r.busy:.0f} %",
                ]
            )
    verdicts = [
        f"- {r.call_class.name.lower()} class, {r.shares[0].queued:,} / {r.shares[1].queued:,}: "
        f"{verdict(r.fair)} ({' / '.join(f'{100 * r.share(s):.1f} %' for s in r.shares)}"
        f"{'' if all(s.waiting for s in r.shares) else '; a project ran out of calls'})"
        for r in runs
    ]
    return "\n".join(
        [
            header("Fairness between two projects on one dialer (issue 12)", COMMAND),
            f"A {CHANNELS}-channel sandbox dialer, VOXCALL_SANDBOX_SPEED={speed:g}: {minutes:g} "
            f"sandbox minutes ({runs[0].window:.0f} s of wall time per run) from the moment "
            "every channel was busy. Channel-seconds in sandbox seconds, of the attempts started "
            "in the window. "
            "Baseline: the ideal share is 50.0 % each.\n",
            table(
                [
                    "class",
                    "queued (first / second)",
                    "project",
                    "attempts started",
                    "channel-seconds",
                    "share %",
                    "still queued at the end",
                    "channels busy",
                ],
                rows,
            ),
            f"\nTarget: each project's share within {100 * LOW:.0f}-{100 * HIGH:.0f} %:",
            *verdicts,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=float, default=10.0, help="VOXCALL_SANDBOX_SPEED")
    parser.add_argument("--minutes", type=float, default=10.0, help="sandbox minutes measured")
    parser.add_argument("--splits", default="50000:50000,90000:10000")
    parser.add_argument("--classes", default="campaign,single")
    add_serve_option(parser)
    args = parser.parse_args()
    window = args.minutes * 60 / args.speed
    splits = [(int(a), int(b)) for a, b in (s.split(":") for s in args.splits.split(","))]
    classes = [CallClass[name.upper()] for name in args.classes.split(",")]
    runs = []
    with tempfile.TemporaryDirectory(prefix="voxcall-fairness-") as work:
        for split in splits:
            for call_class in classes:
                done = run(
                    Path(work),
                    split,
                    call_class,
                    speed=args.speed,
                    window=window,
                    serve_command=args.serve,
                )
                runs.append(done)
                print(json.dumps([dataclasses.asdict(s) for s in done.shares]), flush=True)
    print(report(runs, args.speed, args.minutes))


if __name__ == "__main__":
    main()
