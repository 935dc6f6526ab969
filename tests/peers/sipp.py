"""SIPp as the far end: a UAS running one of the scenarios in tests/peers/sipp/.

    def test_busy(sipp_uas: SippFactory) -> None:
        uas = sipp_uas("uas_busy.xml")
        ... dial uas.trunk ...
        assert uas.wait() == 0, uas.diagnostics()

`wait()` returns SIPp's exit code: 0 when every call followed the scenario (for example our
ACK for the 486 arrived), 1 when one failed, 255 on SIPp's global timeout.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers.net import HOST, free_ports, stop, tail, wait_bound

SCENARIOS = Path(__file__).with_name("sipp")


@dataclass
class SippUas:
    scenario: str
    port: int
    media_port: int
    transport: str  # "udp" or "tcp"
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def trunk(self) -> str:
        """The trunk URI a dialer points at to reach this UAS."""
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{HOST}:{self.port}{suffix}"

    def wait(self, timeout: float = 15.0) -> int:
        """SIPp's exit code once it has processed its `-m` calls."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(self.process)
            raise AssertionError(
                f"SIPp {self.scenario} still running after {timeout} s\n{self.diagnostics()}"
            ) from None

    def diagnostics(self) -> str:
        return (
            f"--- {self.scenario} errors\n{tail(self.workdir / 'errors.log')}\n"
            f"--- messages\n{tail(self.workdir / 'messages.log', 120)}"
        )


@dataclass
class SippFactory:
    workdir: Path
    started: list[SippUas] = field(default_factory=list)

    def __call__(
        self,
        scenario: str,
        *,
        calls: int = 1,
        variables: Mapping[str, str] | None = None,
        transport: str = "udp",
        port: int | None = None,
        extra: Sequence[str] = (),
        files: Mapping[str, bytes] | None = None,
    ) -> SippUas:
        """Start `scenario` on `port` (default: a free one) and wait until it listens.

        `files`: written into SIPp's working folder first, e.g. the pcap a scenario replays
        (SIPp reads it when it loads the scenario).

        `extra`: more SIPp arguments, e.g. a remote host (and `-cid_str`) for a scenario that
        sends the first request, which SIPp over TCP sends on a connection of its own."""
        port = port or free_ports(1)
        media_port = free_ports(4)  # SIPp binds -mp and -mp+2
        workdir = self.workdir / f"sipp-{len(self.started)}-{Path(scenario).stem}"
        workdir.mkdir(parents=True)
        for name, content in (files or {}).items():
            (workdir / name).write_bytes(content)
        args = [
            "sipp",
            *("-sf", str(SCENARIOS / scenario)),
            *("-i", HOST, "-p", str(port), "-mi", HOST, "-mp", str(media_port)),
            *("-t", "t1" if transport == "tcp" else "u1"),
            *("-m", str(calls), "-bind_local", "-nostdin"),
            *("-timeout", "20s", "-timeout_error"),
            *("-trace_err", "-error_file", str(workdir / "errors.log")),
            *("-trace_msg", "-message_file", str(workdir / "messages.log")),
        ]
        args += extra
        for name, value in (variables or {}).items():
            args += ["-set", name, value]
        with open(workdir / "screen.log", "wb") as screen:
            process = subprocess.Popen(
                args, cwd=workdir, stdin=subprocess.DEVNULL, stdout=screen, stderr=screen
            )
        uas = SippUas(scenario, port, media_port, transport, process, workdir)
        self.started.append(uas)
        try:
            # SIPp's UAS answers no OPTIONS: wait for its socket instead.
            wait_bound(process, port, tcp=transport == "tcp")
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{tail(workdir / 'screen.log')}") from exc
        return uas


@pytest.fixture
def sipp_uas(tmp_path: Path) -> Iterator[SippFactory]:
    """Start SIPp UAS instances on free loopback ports; all are stopped at teardown."""
    factory = SippFactory(tmp_path)
    yield factory
    for uas in factory.started:
        stop(uas.process)
