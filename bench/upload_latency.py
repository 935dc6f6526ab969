"""Benchmark: other requests while uploads are being decoded.

`voxcall serve` (SQLite in a temporary folder, sandbox dialer) receives `--uploads` uploads at
once of a 299 s stereo 44.1 kHz mp3 (the longest voice there is, and the slowest format to
decode), while one client sends `GET /api/v2/voice/servers` back to back. The same GETs are
timed on the idle server first. Uploads are decoded on the audio pool
(`VOXCALL_AUDIO_WORKERS`, default the number of cores), off the event loop: the GETs should
barely notice them.

    python -m bench.upload_latency [--uploads 4] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import HOST, free_port, machine, percentile, running, table, wait_tcp
from tests.audio.samples import encode, tone


def voxcall(data: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "voxcall", *args, "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def timed_gets(client: httpx.Client, until: threading.Event | int) -> list[float]:
    """GET /voice/servers back to back: `until` requests, or until the event is set."""
    latencies: list[float] = []
    while (len(latencies) < until) if isinstance(until, int) else not until.is_set():
        start = time.perf_counter()
        client.get("/api/v2/voice/servers").raise_for_status()
        latencies.append(time.perf_counter() - start)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--workers", type=int, help="VOXCALL_AUDIO_WORKERS (default: cores)")
    args = parser.parse_args()
    voice = encode(tone(299.0, rate=44100, channels=2), 44100, 2, "mp3")
    with tempfile.TemporaryDirectory(prefix="voxcall-bench-upload-") as folder:
        data = Path(folder) / "data"
        token = voxcall(data, "project", "create", "bench").split("token: ")[1].strip()
        voxcall(data, "project", "update", "bench", "--rate-limit", "100000")
        voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
        port = free_port()
        env = dict(os.environ)
        if args.workers:
            env["VOXCALL_AUDIO_WORKERS"] = str(args.workers)
        serve = [sys.executable, "-m", "voxcall", "serve", "--data", str(data)]
        serve += ["--port", str(port), "--grace", "1"]
        with running(serve, log=Path(folder) / "serve.log", env=env) as process:
            wait_tcp(port, process)
            base = f"http://{HOST}:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                timed_gets(client, 50)  # warm up
                idle = timed_gets(client, 500)
                done = threading.Event()
                upload_seconds: list[float] = []

                def upload() -> None:
                    with httpx.Client(base_url=base, headers=headers, timeout=120) as own:
                        start = time.perf_counter()
                        answer = own.post("/api/v2/file/voice", files={"file": ("v.mp3", voice)})
                        answer.raise_for_status()
                        upload_seconds.append(time.perf_counter() - start)

                threads = [threading.Thread(target=upload) for _ in range(args.uploads)]
                for thread in threads:
                    thread.start()
                waiter = threading.Thread(target=lambda: ([t.join() for t in threads], done.set()))
                waiter.start()
                loaded = timed_gets(client, done)
                waiter.join()
    print(machine())
    print(
        f"{args.uploads} uploads of a 299 s stereo mp3 ({len(voice) / 2**20:.1f} MiB) at once; "
        f"each took {min(upload_seconds):.2f} to {max(upload_seconds):.2f} s"
    )
    rows = [
        (name, len(values), *(1000 * percentile(values, q) for q in (50, 99, 100)))
        for name, values in (("idle", idle), ("while decoding", loaded))
    ]
    print(table(["GET /voice/servers", "requests", "p50 ms", "p99 ms", "max ms"], rows))


if __name__ == "__main__":
    main()
