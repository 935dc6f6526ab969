"""Loopback helpers for the peer fixtures: free ports, waiting for a peer to be ready."""

from __future__ import annotations

import random
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
# Below Linux's ephemeral range (32768-60999), so a port we pick is not taken a moment
# later by some client socket's automatic bind.
_LOW, _HIGH = 10_000, 32_000


def _port_is_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                return False
    return True


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive ports free for UDP and TCP on 127.0.0.1 (even)."""
    rng = random.Random(uuid.uuid4().int)
    for _ in range(500):
        base = rng.randrange(_LOW, _HIGH - count) & ~1
        if all(_port_is_free(p) for p in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports on {HOST}")


@contextmanager
def udp_socket() -> Iterator[socket.socket]:
    """A non-blocking UDP socket on a free port of 127.0.0.1, closed at the end."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.setblocking(False)
        yield sock


def _bound(port: int, table: str) -> bool:
    # /proc/net/{udp,tcp}: "sl local_address rem_address st ...", addresses as hex IP:PORT.
    wanted = f"0100007F:{port:04X}"
    listen = "0A"  # TCP_LISTEN; UDP sockets show 07 and need no state check
    with open(f"/proc/net/{table}") as lines:
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1] == wanted:
                if table == "udp" or fields[3] == listen:
                    return True
    return False


def wait_bound(
    process: subprocess.Popen[bytes], port: int, *, tcp: bool = False, timeout: float = 5.0
) -> None:
    """Wait until `process` has bound 127.0.0.1:`port` (for peers that answer no OPTIONS)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"peer exited with {process.returncode} before binding {port}")
        if _bound(port, "tcp" if tcp else "udp"):
            return
        time.sleep(0.005)
    raise TimeoutError(f"peer did not bind {HOST}:{port} within {timeout} s")


def wait_options(process: subprocess.Popen[bytes], port: int, *, timeout: float = 5.0) -> None:
    """Wait until something answers a SIP OPTIONS on 127.0.0.1:`port` (UDP)."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.settimeout(0.02)
        local = sock.getsockname()[1]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"peer exited with {process.returncode} before answering")
            call_id = uuid.uuid4().hex
            probe = (
                f"OPTIONS sip:{HOST}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {HOST}:{local};branch=z9hG4bK{call_id[:16]}\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:probe@{HOST}>;tag={call_id[:8]}\r\n"
                f"To: <sip:{HOST}:{port}>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(probe.encode(), (HOST, port))
            try:
                if sock.recv(65536).startswith(b"SIP/2.0 "):
                    return
            except OSError:  # timeout, or ICMP port unreachable while the peer starts
                pass
    raise TimeoutError(f"nothing answered OPTIONS on {HOST}:{port} within {timeout} s")


def stop(process: subprocess.Popen[bytes], *, timeout: float = 5.0) -> int:
    """SIGTERM, then SIGKILL if the peer hangs (baresip waits for a BYE reply forever)."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def tail(path: Path, lines: int = 60) -> str:
    """The end of a peer's log, for assertion messages."""
    if not path.exists():
        return f"({path.name} missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
