"""Benchmark 1, intake: durable `POST /api/v2/voice/single` against a bare FastAPI app.

voxcall runs as `voxcall serve` (SQLite in a temporary folder, a sandbox dialer with a
tariff, so that every request takes the reservation path, and its scheduler running as in
production). The baseline is bench/bare_app.py, served with the same uvicorn options, which
returns the same JSON and stores nothing. wrk (Debian) drives both with bench/post_single.lua:

* closed loop: `--connections` connections, each sends its next request when it has the
  answer; what the server sustains;
* fixed rate: `--rate` requests/s offered on a schedule (wrk's `delay()`), for the latency
  target.

Each run is warmed up for 2 s first. wrk's own CPU is measured (rusage of the child) and so is
each server's (/proc), to show that the load generator is not the bottleneck. At the end the
calls voxcall stored are counted: at least every 2xx answer must be on disk.

    python -m bench.intake [--seconds 10] [--connections 16] [--rate 1000] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from bench.common import (
    HOST,
    ROOT,
    VENV_BIN,
    CpuWindow,
    free_port,
    header,
    profile_summary,
    py_spy,
    require,
    running,
    table,
    verdict,
    wait_tcp,
)
from voxcall.audio.wav import wav_bytes
from voxcall.config import Settings
from voxcall.store.store import Store

LUA = Path(__file__).with_name("post_single.lua")
WARMUP_SECONDS = 2
TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0


@dataclass
class WrkResult:
    server: str
    mode: str  # "closed loop" or "N/s"
    connections: int
    offered: float | None  # requests/s, None for closed loop
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx answers
    server_cpu: float  # share of one core
    wrk_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    rate: float | None,
    token: str,
    voice: str,
    server_pid: int,
) -> tuple[dict[str, float], CpuWindow, float]:
    """One wrk run: its summary, the server's CPU over it, and wrk's own CPU share."""
    env = dict(os.environ, BENCH_TOKEN=token, BENCH_VOICE=voice, BENCH_RATE=str(rate or 0))
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    args += ["-s", str(LUA), url]
    server = CpuWindow(server_pid)
    server.start()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    server.stop()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    line = next((x for x in output.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    wrk_cpu = (usage.ru_utime + usage.ru_stime) / server.wall
    return json.loads(line.removeprefix("BENCH_JSON ")), server, wrk_cpu


def measure(
    name: str,
    url: str,
    server_pid: int,
    *,
    seconds: int,
    connections: int,
    rate: float | None,
    token: str,
    voice: str,
) -> WrkResult:
    for run_seconds in (WARMUP_SECONDS, seconds):
        summary, server, wrk_cpu = run_wrk(
            url,
            seconds=run_seconds,
            connections=connections,
            rate=rate,
            token=token,
            voice=voice,
            server_pid=server_pid,
        )
    errors = sum(
        int(summary[k])
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return WrkResult(
        server=name,
        mode="closed loop" if rate is None else f"{rate:g}/s offered",
        connections=connections,
        offered=rate,
        requests=int(summary["requests"]),
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p90_ms=summary["p90_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        errors=errors,
        server_cpu=server.share,
        wrk_cpu=wrk_cpu,
    )


def voxcall(data: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXCALL_")}
    done = subprocess.run(
        [str(VENV_BIN / "voxcall"), *args, "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return done.stdout


def test_voice() -> bytes:
    """A 3 s two-tone WAV at 8 kHz: what the voice is does not matter to intake."""
    t = np.arange(3 * 8000) / 8000
    signal = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1250 * t)
    return wav_bytes((signal * 32767).astype("<i2").tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measured run")
    parser.add_argument("--connections", type=int, default=16, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=1000.0, help="fixed-rate requests/s")
    parser.add_argument("--profile", type=Path, help="py-spy voxcall's closed-loop run here")
    parser.add_argument(
        "--serve",
        default="{venv}/voxcall serve --data {data} --port {port} --grace 1",
        help="how to start voxcall (to compare a patched build); {venv} {data} {port} filled in",
    )
    args = parser.parse_args()
    require("wrk")
    rate_connections = max(8, math.ceil(args.rate / 20))  # each can wait 50 ms for its answer

    with tempfile.TemporaryDirectory(prefix="voxcall-bench-intake-") as folder:
        work = Path(folder)
        data = work / "data"
        created = json.loads(
            voxcall(data, "project", "create", "bench", "--json", "--balance", "1000000000")
        )
        voxcall(data, "project", "update", "bench", "--rate-limit", "1000000")
        voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
        voxcall(data, "dialer", "update", "sandbox", "--price-per-minute", "600")
        token = created["token"]
        vx_port, bare_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOXCALL_")}
        serve = args.serve.format(venv=VENV_BIN, data=data, port=vx_port).split()
        bare = [str(VENV_BIN / "python"), "-m", "bench.bare_app", "--port", str(bare_port)]
        with (
            running(serve, log=work / "serve.log", env=env) as vx,
            running(bare, log=work / "bare.log", cwd=ROOT) as base,
        ):
            wait_tcp(vx_port, vx)
            wait_tcp(bare_port, base)
            uploaded = httpx.post(
                f"http://{HOST}:{vx_port}/api/v2/file/voice",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": ("bench.wav", test_voice(), "audio/wav")},
                data={"name": "bench"},
                timeout=30,
            )
            uploaded.raise_for_status()
            voice = uploaded.json()["result"]["id"]
            path = "/api/v2/voice/single"
            servers = [
                ("bare FastAPI", f"http://{HOST}:{bare_port}{path}", base.pid),
                ("voxcall", f"http://{HOST}:{vx_port}{path}", vx.pid),
            ]
            results: list[WrkResult] = []
            for connections, rate in ((args.connections, None), (rate_connections, args.rate)):
                for name, url, pid in servers:
                    spy = None
                    if args.profile is not None and name == "voxcall" and rate is None:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        out = args.profile / "intake-voxcall.txt"
                        spy = py_spy(pid, args.seconds + WARMUP_SECONDS, out)
                    results.append(
                        measure(
                            name,
                            url,
                            pid,
                            seconds=args.seconds,
                            connections=connections,
                            rate=rate,
                            token=token,
                            voice=voice,
                        )
                    )
                    if spy is not None:
                        spy.wait()
        store = Store.open(Settings.load(data).database_url)
        stored = sum(store.count_calls().values())
        store.close()
        errors = logged_errors((work / "serve.log").read_text(errors="replace"))

    report(args, results, stored, errors)


def logged_errors(log: str) -> dict[str, int]:
    """The exceptions voxcall logged with a traceback, by their last line."""
    found: dict[str, int] = {}
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            last = next((x for x in lines[i + 1 :] if x and not x.startswith((" ", "\t"))), "?")
            found[last] = found.get(last, 0) + 1
    return found


def report(
    args: argparse.Namespace, results: list[WrkResult], stored: int, errors: dict[str, int]
) -> None:
    print(header("Intake: POST /api/v2/voice/single", "python -m bench.intake"))
    rows = [
        [
            r.mode,
            r.server,
            r.connections,
            r.rate,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.max_ms,
            r.errors,
            f"{100 * r.server_cpu:.0f}%",
            f"{100 * r.wrk_cpu:.0f}%",
        ]
        for r in results
    ]
    print(
        table(
            [
                "load",
                "server",
                "conns",
                "req/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "errors",
                "server CPU",
                "wrk CPU",
            ],
            rows,
        )
    )
    closed = {r.server: r for r in results if r.offered is None}
    fixed = {r.server: r for r in results if r.offered is not None}
    vx, bare = closed["voxcall"], closed["bare FastAPI"]
    ratio = vx.rate / bare.rate
    vx_fixed = fixed["voxcall"]
    sustained = vx_fixed.rate >= 0.95 * args.rate
    print()
    print(
        table(
            ["figure", "voxcall", "bare FastAPI", "voxcall / bare", "target", "verdict"],
            [
                [
                    "closed-loop req/s",
                    vx.rate,
                    bare.rate,
                    f"{ratio:.2f}",
                    f">= {TARGET_RATIO}",
                    verdict(ratio >= TARGET_RATIO and vx.errors == 0),
                ],
                [
                    "closed-loop p99 ms",
                    vx.p99_ms,
                    bare.p99_ms,
                    f"{vx.p99_ms / bare.p99_ms:.2f}",
                    "",
                    "",
                ],
                [
                    f"p99 ms at {args.rate:g}/s offered",
                    vx_fixed.p99_ms,
                    fixed["bare FastAPI"].p99_ms,
                    f"{vx_fixed.p99_ms / fixed['bare FastAPI'].p99_ms:.2f}",
                    f"< {TARGET_P99_MS:g} ms at {args.rate:g}/s sustained",
                    verdict(sustained and vx_fixed.p99_ms < TARGET_P99_MS and vx_fixed.errors == 0),
                ],
                [
                    f"req/s achieved of {args.rate:g}/s offered",
                    vx_fixed.rate,
                    fixed["bare FastAPI"].rate,
                    f"{vx_fixed.rate / fixed['bare FastAPI'].rate:.2f}",
                    "",
                    "",
                ],
            ],
        )
    )
    answered = sum(r.requests for r in results if r.server == "voxcall")
    print(
        f"\nLoad generator: wrk (1 thread) drove the bare app to {bare.rate:,.0f} req/s "
        f"({bare.rate / vx.rate:.1f}x voxcall's) using {100 * bare.wrk_cpu:.0f}% of a core; "
        f"against voxcall it used {100 * vx.wrk_cpu:.0f}%. Durability: {stored:,} calls on disk "
        f"for {answered:,} answers counted by wrk in the measured runs (warm-ups add more)."
    )
    if errors:
        listed = "; ".join(f"{n} x {what}" for what, n in errors.items())
        print(f"\nvoxcall logged tracebacks: {listed}")
    if args.profile is not None:
        out = args.profile / "intake-voxcall.txt"
        if out.exists():
            print(f"\nProfile of voxcall, closed loop (py-spy, {out}):\n")
            print(profile_summary(out))


if __name__ == "__main__":
    main()
