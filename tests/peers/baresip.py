"""baresip as an auto-answering callee that records what it hears to a WAV file.

The account user must be the Request-URI user we dial (baresip answers 404 otherwise),
so the factory takes it. Run one call per instance: recordings are named to the second.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers.net import HOST, free_ports, stop, tail, wait_options

TEMPLATES = Path(__file__).with_name("baresip")


@dataclass
class Baresip:
    user: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    ctrl_port: int

    @property
    def trunk(self) -> str:
        return f"sip:{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "baresip.log"

    def command(self, command: str, params: str = "") -> str:
        """Run a menu command through ctrl_tcp (netstring JSON); returns its response text."""
        body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        with socket.create_connection((HOST, self.ctrl_port), timeout=3) as ctrl:
            ctrl.sendall(b"%d:%s," % (len(body), body))
            received = b""
            while b'"response"' not in received:  # events may come first
                chunk = ctrl.recv(65536)
                if not chunk:
                    break
                received += chunk
        return received.decode(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise AssertionError(f"baresip never logged {text!r}\n{tail(self.log)}")
            time.sleep(0.02)

    def recording(self, timeout: float = 10.0) -> Path:
        """The WAV of what the callee heard, once its call has ended and the file is final."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = "terminated" in self.log.read_text(errors="replace")
            found = sorted((self.workdir / "rec").glob("*-dec.wav"))
            if ended and found and _wav_is_final(found[-1]):
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"baresip wrote no finished recording\n{tail(self.log)}")


def _wav_is_final(path: Path) -> bool:
    # The header's frame count is only written when baresip closes the file.
    try:
        with wave.open(str(path)) as wav:
            return bool(wav.getnframes() > 0)
    except (EOFError, wave.Error):
        return False


@dataclass
class BaresipFactory:
    workdir: Path
    started: list[Baresip] = field(default_factory=list)

    def __call__(self, user: str, *, source: Path | None = None) -> Baresip:
        """A callee answering as `user`; it echoes what it hears, or with `source` (an 8 kHz
        mono 16-bit WAV) says that file from the answer on."""
        port, ctrl_port, rtp_low = free_ports(1), free_ports(1), free_ports(40)
        workdir = self.workdir / f"baresip-{len(self.started)}"
        (workdir / "rec").mkdir(parents=True)  # snd_path must exist
        tokens = {
            "@SIP_PORT@": str(port),
            "@CTRL_PORT@": str(ctrl_port),
            "@RTP_LOW@": str(rtp_low),
            "@RTP_HIGH@": str(rtp_low + 39),
            "@SND_PATH@": str(workdir / "rec"),
            "@USER@": user,
        }
        for name in ("config", "accounts"):
            text = (TEMPLATES / name).read_text()
            for token, value in tokens.items():
                text = text.replace(token, value)
            if source is not None:
                text = text.replace(
                    "audio_source\t\taubridge,echo", f"audio_source\t\taufile,{source}"
                )
            (workdir / name).write_text(text)
        (workdir / "contacts").write_text("")
        with open(workdir / "baresip.log", "wb") as log:
            process = subprocess.Popen(
                ["baresip", "-f", str(workdir)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,  # so no stdio.so: it fails without a terminal
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        callee = Baresip(user, port, process, workdir, ctrl_port)
        self.started.append(callee)
        wait_options(process, port)
        return callee


@pytest.fixture
def baresip_callee(tmp_path: Path) -> Iterator[BaresipFactory]:
    """Start baresip callees on free loopback ports; all are stopped at teardown."""
    factory = BaresipFactory(tmp_path)
    yield factory
    for callee in factory.started:
        stop(callee.process, timeout=3.0)
