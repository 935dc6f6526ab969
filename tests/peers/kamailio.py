"""kamailio as a digest-authenticating proxy (407, qop=auth) in front of another peer.

It challenges every INVITE, answers a wrong password with 403, and record-routes the
calls it lets through to `uas_port`, so in-dialog requests (ACK, BYE) cross it too.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers.net import HOST, free_ports, stop, tail, wait_options

CONFIG = Path(__file__).with_name("kamailio") / "kamailio.cfg"


@dataclass
class Kamailio:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def trunk(self) -> str:
        return f"sip:{HOST}:{self.port}"

    def diagnostics(self) -> str:
        return tail(self.workdir / "kamailio.log")


@dataclass
class KamailioFactory:
    workdir: Path
    started: list[Kamailio] = field(default_factory=list)

    def __call__(self, uas_port: int, *, user: str = "alice", password: str = "secret") -> Kamailio:
        port = free_ports(1)
        workdir = self.workdir / f"kamailio-{len(self.started)}"
        (workdir / "run").mkdir(parents=True)
        args = [
            "kamailio",
            *("-f", str(CONFIG), "-DD", "-E"),
            *("-w", str(workdir), "-Y", str(workdir / "run")),
            *("-l", f"udp:{HOST}:{port}"),
            *("-A", f'AUTH_USER="{user}"', "-A", f'AUTH_PASS="{password}"'),
            *("-A", f'UAS_URI="sip:{HOST}:{uas_port}"'),
        ]
        with open(workdir / "kamailio.log", "wb") as log:
            process = subprocess.Popen(
                args, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        proxy = Kamailio(port, process, workdir)
        self.started.append(proxy)
        try:
            wait_options(process, port)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{proxy.diagnostics()}") from exc
        return proxy


@pytest.fixture
def kamailio_proxy(tmp_path: Path) -> Iterator[KamailioFactory]:
    """Start kamailio auth proxies on free loopback ports; all are stopped at teardown."""
    factory = KamailioFactory(tmp_path)
    yield factory
    for proxy in factory.started:
        stop(proxy.process)
