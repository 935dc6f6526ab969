"""Benchmark 4, webhooks: how long after a call becomes final its event reaches the receiver,
for a burst of one project and for ten projects of which one receiver hangs; against a bare
httpx loop POSTing the same events.

voxcall: the calls are queued as in bench/dispatch.py with the dialer disabled, and each
project's webhook points at a receiver in this process (asyncio, HTTP/1.1 keep-alive,
answering 200 after `--delay`, 10 ms; the hanging one reads requests and never answers).
`voxcall serve` starts with VOXCALL_SANDBOX_SPEED=inf, and `voxcall dialer enable` lets the
calls become final, 1,000 within well under a second. An event's latency runs from its
call's final status (the outbox row's `created_at`, written in the same transaction) to its
first arrival at the receiver.

Baseline: the same events (ids, bodies) POSTed by one `httpx.AsyncClient` in this process,
each released at the offset at which its call became final in voxcall's run, with as many
requests in flight as voxcall allows at most (16 per project, 32 in all): sending alone,
without an outbox, a lease or a record of the outcome.

    python -m bench.webhooks [--calls 1000] [--projects 10] [--delay 0.01] [--cap 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from bench.common import (
    HOST,
    VENV_BIN,
    CpuWindow,
    add_serve_option,
    free_port,
    header,
    percentile,
    profile_summary,
    py_spy,
    running,
    table,
    verdict,
    wait_tcp,
)
from bench.dispatch import database_url, queue_calls
from bench.intake import voxcall
from voxcall.store import schema
from voxcall.store.call_rows import call_from_row
from voxcall.store.store import Store
from voxcall.webhooks.delivery import CONCURRENCY, PER_PROJECT_MAX
from voxcall.webhooks.event import event_body
from voxcall.webhooks.signing import new_secret

TARGET_P99 = 2.0  # seconds from final status to delivery
TIMEOUT = 5.0  # voxcall's webhook timeout, given to the baseline too
PROFILE_SECONDS = 5  # of py-spy sampling, from the moment the calls may become final


class Receiver:
    """One webhook receiver: records the first arrival of each event id (X-Voxcall-Event-Id)
    and answers 200 after `delay`, or never when `hang`."""

    def __init__(self, delay: float, *, hang: bool = False) -> None:
        self.delay = delay
        self.hang = hang
        self.port = 0
        self.arrivals: dict[str, float] = {}
        self.connections: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, event = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"x-voxcall-event-id":
                        event = value.strip().decode()
                await reader.readexactly(length)
                self.arrivals.setdefault(event, time.time())
                if self.hang:
                    await reader.read()  # until the client gives up
                    return
                await asyncio.sleep(self.delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            self.connections.discard(writer)
            writer.close()


class Receivers:
    """Receivers on 127.0.0.1, served by an event loop in a thread of their own so that
    they answer whatever this process's main thread is doing."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._servers: list[asyncio.Server] = []
        self._receivers: list[Receiver] = []

    def add(self, delay: float, *, hang: bool = False) -> Receiver:
        receiver = Receiver(delay, hang=hang)

        async def start() -> None:
            server = await asyncio.start_server(receiver.serve, HOST, 0)
            receiver.port = server.sockets[0].getsockname()[1]
            self._servers.append(server)
            self._receivers.append(receiver)

        asyncio.run_coroutine_threadsafe(start(), self._loop).result()
        return receiver

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for receiver in self._receivers:  # the hanging ones' connections
                for writer in list(receiver.connections):
                    writer.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    project: str
    body: str
    final_at: float  # created_at of the outbox row: when its call became final
    attempts: int


@dataclass
class Run:
    scenario: str
    who: str
    latencies: list[float] = field(default_factory=list)  # of the events that must arrive
    expected: int = 0
    retried: int = 0  # events with more than one attempt
    cpu: float = float("nan")  # CPU seconds of the sending process

    def row(self) -> list[object]:
        ms = [1000 * v for v in self.all_latencies()]
        return [
            self.scenario,
            self.who,
            f"{len(self.latencies):,} / {self.expected:,}",
            percentile(ms, 50),
            percentile(ms, 99),
            max(ms, default=float("nan")),
            self.retried,
            self.cpu,
        ]

    def all_latencies(self) -> list[float]:
        """An event that never arrived (within --cap) counts as infinitely late."""
        return self.latencies + [math.inf] * (self.expected - len(self.latencies))

    @property
    def p99(self) -> float:
        return percentile(self.all_latencies(), 99)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    projects: int
    calls: int  # per project
    hanging: bool  # the first project's receiver never answers


def run_voxcall(
    work: Path,
    scenario: Scenario,
    receivers: Receivers,
    *,
    delay: float,
    cap: float,
    serve: str,
    profile: Path | None,
) -> tuple[Run, list[Event], dict[str, Receiver]]:
    data = work / scenario.name.replace(" ", "-")
    names = [f"p{i}" for i in range(scenario.projects)]
    queue_calls(data, scenario.calls, names)
    by_project: dict[str, Receiver] = {}
    store = Store.open(database_url(data))
    try:
        for i, name in enumerate(names):
            project = store.project_by_name(name)
            assert project is not None
            receiver = receivers.add(delay, hang=scenario.hanging and i == 0)
            by_project[project.id] = receiver
            store.set_webhook(project.id, receiver.url, new_secret())
        fast = [p for p, r in by_project.items() if not r.hang]
        expected = scenario.calls * len(fast)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOXCALL_")}
        env["VOXCALL_SANDBOX_SPEED"] = "inf"
        command = serve.format(venv=VENV_BIN, data=data, port=port).split()
        log = work / f"serve-{data.name}.log"
        with running(command, log=log, env=env) as vx:
            wait_tcp(port, vx)
            cpu = CpuWindow(vx.pid)
            spy = None
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
                spy = py_spy(vx.pid, PROFILE_SECONDS, profile / f"webhooks-{data.name}.txt")
            cpu.start()
            voxcall(data, "dialer", "enable", "sandbox")
            deadline = time.monotonic() + cap
            while time.monotonic() < deadline:
                time.sleep(0.2)
                if sum(len(by_project[p].arrivals) for p in fast) >= expected:
                    break
            cpu.stop()
            if spy is not None:
                spy.wait()
        with store.engine.connect() as conn:
            rows = conn.execute(select(schema.webhook_events)).all()
            calls = {c.id: call_from_row(c._mapping) for c in conn.execute(select(schema.calls))}
    finally:
        store.close()
    events = [
        Event(r.id, r.project_id, event_body(calls[r.call_id]).decode(), r.created_at, r.attempts)
        for r in rows
    ]
    run = Run(scenario.name, "voxcall", expected=expected, cpu=cpu.cpu)
    for event in events:
        receiver = by_project[event.project]
        if receiver.hang:
            continue
        if event.id in receiver.arrivals:
            run.latencies.append(receiver.arrivals[event.id] - event.final_at)
        run.retried += event.attempts > 1
    return run, events, by_project


async def bare_loop(
    events: Sequence[Event], by_project: dict[str, Receiver], *, cap: float
) -> dict[str, float]:
    """POST each event at its offset from the first final status; returns the release time
    of each. Waits for the events of answering receivers only."""
    first = min(e.final_at for e in events)
    start = time.time()
    overall = asyncio.Semaphore(CONCURRENCY)
    lanes = {project: asyncio.Semaphore(PER_PROJECT_MAX) for project in by_project}
    released: dict[str, float] = {}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:

        async def send(event: Event) -> None:
            released[event.id] = start + (event.final_at - first)
            await asyncio.sleep(released[event.id] - time.time())
            headers = {"Content-Type": "application/json", "X-Voxcall-Event-Id": event.id}
            async with lanes[event.project], overall:
                try:
                    await client.post(
                        by_project[event.project].url, content=event.body, headers=headers
                    )
                except httpx.TimeoutException:
                    pass  # the hanging receiver

        tasks = {e.id: asyncio.create_task(send(e)) for e in events}
        awaited = [tasks[e.id] for e in events if not by_project[e.project].hang]
        try:
            await asyncio.wait_for(asyncio.gather(*awaited), cap)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
    return released


def run_baseline(
    scenario: Scenario,
    events: Sequence[Event],
    receivers: Receivers,
    old: dict[str, Receiver],
    *,
    delay: float,
    cap: float,
) -> Run:
    # Fresh receivers, so that arrivals are the baseline's own.
    by_project = {p: receivers.add(delay, hang=r.hang) for p, r in old.items()}
    released = asyncio.run(bare_loop(events, by_project, cap=cap))
    # No CPU figure: the receivers run in this process too.
    run = Run(scenario.name, "bare httpx loop")
    for event in events:
        receiver = by_project[event.project]
        if receiver.hang:
            continue
        run.expected += 1
        if event.id in receiver.arrivals:
            run.latencies.append(receiver.arrivals[event.id] - released[event.id])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="final calls per scenario")
    parser.add_argument("--projects", type=int, default=10, help="projects, one hanging")
    parser.add_argument("--delay", type=float, default=0.01, help="receiver's answer, s")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds at most per run")
    parser.add_argument("--profile", type=Path, help="py-spy voxcall's runs here")
    add_serve_option(parser)
    args = parser.parse_args()
    scenarios = [
        Scenario("burst", 1, args.calls, hanging=False),
        Scenario("one hangs", args.projects, args.calls // args.projects, hanging=True),
    ]
    runs: list[tuple[Run, Run, float]] = []
    receivers = Receivers()
    try:
        with tempfile.TemporaryDirectory(prefix="voxcall-bench-webhooks-") as folder:
            for scenario in scenarios:
                vx, events, by_project = run_voxcall(
                    Path(folder),
                    scenario,
                    receivers,
                    delay=args.delay,
                    cap=args.cap,
                    serve=args.serve,
                    profile=args.profile,
                )
                base = run_baseline(
                    scenario, events, receivers, by_project, delay=args.delay, cap=args.cap
                )
                spread = max(e.final_at for e in events) - min(e.final_at for e in events)
                runs.append((vx, base, spread))
                print(f"# {scenario.name}: voxcall p99 {vx.p99:.3f} s, baseline {base.p99:.3f} s")
    finally:
        receivers.close()
    report(args, runs)


def report(args: argparse.Namespace, runs: list[tuple[Run, Run, float]]) -> None:
    print(header("Webhooks: from final status to delivery", "python -m bench.webhooks"))
    print(
        f"{args.calls:,} final calls per scenario, a receiver answering in "
        f'{1000 * args.delay:g} ms; "one hangs": {args.projects} projects, the first one\'s '
        "receiver never answers, figures of the other ones. inf: not delivered within "
        f"--cap ({args.cap:g} s).\n"
    )
    rows: list[list[object]] = []
    for vx, base, spread in runs:
        rows += [vx.row(), base.row()]
        ratio = vx.p99 / base.p99 if base.p99 > 0 else float("nan")
        rows.append(
            [
                vx.scenario,
                "voxcall / baseline (p99)",
                f"final within {spread:.2f} s",
                "",
                f"{ratio:.2f}x",
                "",
                "",
                "",
            ]
        )
    print(
        table(
            ["scenario", "who", "delivered", "p50 ms", "p99 ms", "max ms", "retried", "CPU s"],
            rows,
        )
    )
    print()
    verdicts = [
        [
            f"{vx.scenario}: p99 final to delivered",
            f"{vx.p99:.2f} s",
            f"{base.p99:.2f} s",
            f"<= {TARGET_P99:g} s, all delivered",
            verdict(vx.p99 <= TARGET_P99 and len(vx.latencies) == vx.expected),
        ]
        for vx, base, _ in runs
    ]
    print(table(["figure", "voxcall", "baseline", "target", "verdict"], verdicts))
    if args.profile is not None:
        for out in sorted(args.profile.glob("webhooks-*.txt")):
            print(f"\nProfile of voxcall serve ({out}):\n")
            print(profile_summary(out))


if __name__ == "__main__":
    main()
