"""What the three benchmarks share: ports, process CPU, child processes, the results table.

Everything here is loopback only. CPU figures are read from /proc (user + system time of a
process and all its threads), so a figure is the process's own work, whatever else runs on
the machine; wall-clock figures (rates, latencies) are not, and say so in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_udp_block(count: int, *, low: int = 10_000, high: int = 32_000) -> int:
    """The first of `count` consecutive UDP ports free on 127.0.0.1, below the ephemeral
    range so that no client socket takes one a moment later; even, for RTP."""
    base = low
    while base + count <= high:
        taken = next((p for p in range(base, base + count) if not _udp_free(p)), None)
        if taken is None:
            return base
        base = (taken + 2) & ~1
    raise RuntimeError(f"no {count} consecutive free UDP ports in {low}-{high}")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process (all its threads) has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces: fields start after its closing parenthesis.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads."""
    times = os.times()
    return times.user + times.system


@dataclass
class CpuWindow:
    """CPU used by one process between `start` and `stop`, as a share of one core."""

    pid: int
    cpu0: float = 0.0
    wall0: float = 0.0
    cpu: float = 0.0
    wall: float = 0.0

    def start(self) -> None:
        self.cpu0, self.wall0 = self._cpu(), time.monotonic()

    def stop(self) -> None:
        self.cpu, self.wall = self._cpu() - self.cpu0, time.monotonic() - self.wall0

    def _cpu(self) -> float:
        return self_cpu_seconds() if self.pid == os.getpid() else cpu_seconds(self.pid)

    @property
    def share(self) -> float:
        """Fraction of one core (1.0 = one core busy the whole window)."""
        return self.cpu / self.wall if self.wall > 0 else 0.0


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> int:
    """SIGTERM (SIGINT for capture tools that flush on it), then SIGKILL after `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@contextlib.contextmanager
def running(
    args: Sequence[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stop_timeout: float = 10.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with its output in `log`, stopped however the block ends."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    try:
        yield process
    finally:
        stop_process(process, timeout=stop_timeout)


def wait_tcp(port: int, process: subprocess.Popen[bytes], *, timeout: float = 20.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout} s")


def add_serve_option(parser: argparse.ArgumentParser) -> None:
    """--serve: how a benchmark starts voxcall, so that a patched build can be compared."""
    parser.add_argument(
        "--serve",
        default="{venv}/voxcall serve --data {data} --port {port} --grace 1",
        help="how to start voxcall (to compare a patched build); {venv} {data} {port} filled in",
    )


def require(*tools: str) -> None:
    """Fail early, naming what `make bench-tools` installs."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make bench-tools` (Debian packages)")


def machine() -> str:
    """One line: CPU model and count, memory, kernel, Python, load average."""
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model} x{os.cpu_count()}, {memory:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, load average {load}"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, numbers formatted for reading."""
    cells = [[_cell(value) for value in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool) -> str:
    return "holds" if ok else "FAILS"


def header(title: str, command: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"## {title}\n\n{stamp}; `{command}`\n\nMachine: {machine()}\n"


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` with py-spy for `seconds` into `out` (collapsed stacks, the
    "raw" format). Only the thread holding the GIL is sampled (--gil), so the shares are of
    the Python CPU time, not of threads waiting on locks or fsync; the process does not stop
    while it is sampled (--nonblocking)."""
    spy = VENV_BIN / "py-spy"
    if not spy.exists():
        sys.exit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen(
        [
            *(str(spy), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))),
            *("--rate", "250", "--gil", "--format", "raw", "--nonblocking", "--output", str(out)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_summary(collapsed: Path, *, top: int = 15) -> str:
    """The functions that hold the most samples, by own time and by inclusive time, from a
    py-spy raw file ("frame;frame;... count" per line, the leaf last)."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + count
    if total == 0:
        return "(no samples)"

    def ranked(counts: dict[str, int]) -> list[tuple[str, str]]:
        best = sorted(counts.items(), key=lambda item: -item[1])[:top]
        return [(f"{100 * n / total:.1f}%", name) for name, n in best]

    return (
        f"{total} samples. By own time:\n"
        + table(["share", "function (file)"], ranked(own))
        + "\n\nBy inclusive time:\n"
        + table(["share", "function (file)"], ranked(inclusive))
    )


def _frame_name(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (to/file.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:])
    return f"{name} ({short})" if short else name
