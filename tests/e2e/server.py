"""Run `voxcall` as a real process: CLI commands and a `serve` on a free port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def voxcall(data: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "voxcall", *args, "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def voxcall_json(data: Path, *args: str) -> Any:
    return json.loads(voxcall(data, *args, "--json"))


class Server:
    """`voxcall serve` in a subprocess, with its log in the data folder."""

    def __init__(
        self,
        data: Path,
        *,
        speed: float,
        grace: float = 30.0,
        role: str = "all",
        env: dict[str, str] | None = None,
        name: str = "serve",
        extra: tuple[str, ...] = (),
    ) -> None:
        self.data = data
        self.port = free_port()
        self.speed = speed
        self.grace = grace
        self.role = role
        self.env = env or {}
        self.name = name
        self.extra = extra  # more `serve` arguments
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"
        self.clients: list[httpx.Client] = []

    def client(self, token: str, timeout: float = 10) -> httpx.Client:
        """An API client with the token; closed by `stop`."""
        client = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
        self.clients.append(client)
        return client

    def start(self) -> None:
        env = {**os.environ, "VOXCALL_SANDBOX_SPEED": str(self.speed), **self.env}
        with open(self.data / f"{self.name}.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "voxcall", "serve",
                    "--data", str(self.data), "--port", str(self.port),
                    "--grace", str(self.grace), "--role", self.role, *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            if self.role == "worker":
                if " running" in self.log():
                    return
                time.sleep(0.05)
                continue
            try:
                with httpx.Client(timeout=1) as probe:
                    probe.get(self.base + "/api/v2/voice/servers")
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("voxcall serve did not start:\n" + self.log())

    def log(self) -> str:
        return (self.data / f"{self.name}.log").read_text(errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
