"""Benchmark 3, SIP media: N simultaneous calls playing a 20 s voice from one voxcall process
into a SIPp UAS, against SIPp itself as the caller playing the same G.711 audio.

For each N (100, 500, 1,000, 2,000 by default) and each caller:

* a fresh SIPp UAS (bench/sipp/uas_answer.xml: 100, 180, 200 after 0.5 s, answers PCMU,
  waits for the caller's BYE) and dumpcap on `lo` recording every RTP packet to its media
  port (headers only);
* voxcall: one `SipDialer` on uvloop in this process (as `voxcall serve` runs it), dialling
  the N calls at `--rate` calls/s; SIPp: `sipp` as UAC (bench/sipp/uac_play.xml, rtpstream
  playing the same voice as raw mu-law, BYE after 20 s), at the same rate and N;
* CPU: the caller's user + system time while all N calls are up (from the last call's
  answer to the first call's end), per call as a share of one core; for voxcall, this
  process and its RTP media processes (the pacer and the receiver);
* pacing jitter: |gap - 20 ms| between consecutive packets of each stream at the receiver,
  p50 / p99 / max over all gaps of all streams (bench/rtp_capture.py);
* calls right: voxcall's outcome is ANSWERED "200 OK; voice played" with the billed seconds
  of a 20 s voice, and the stream arrived whole (1,000 packets, none missing); for SIPp its
  exit status (every call successful) and whole streams.

Then the call setup rate: voxcall dials `--setup-rates` calls/s for 4 s each (1 s voices);
a rate is sustained when the answers keep up (>= 95 %), every call is right and the setup
time (INVITE to 200, of which the UAS waits 0.5 s) stays under 1.5 s at p99.

Listening (`--listen-only` runs only this, at `--listen-calls`, 500): the cost of hearing
the callee. The voice is espeak-ng speech (`speech`), which the UAS echoes back (SIPp
-rtp_echo), and voxcall places the same N calls three times: as above, listening to nothing
(the echo is left unread); with `machineDetection` "detect" (the receiving media process
reads and analyses the echo until the decision, about 1.5 s into it, then stops reading);
and with `gather` as well (one key, 1 s timeout: the in-band and RFC 4733 key detectors read
every packet to the end). CPU per call of each, this process and the media processes, over
the same window, and the ratios to the first. The three run `--listen-rounds` (3) times in
turn, and the verdict is on the means: a deaf run's CPU alone varies by a tenth.

Last, media under load (`--busy-only` runs only this): `--busy-calls` calls (200) playing
a long voice are measured (jitter at the receiver, dumpcap) for `--busy-seconds` (8) while
the same process and event loop set up `--busy-rate` (200) new calls/s and serve a real
voxcall API (uvicorn on this loop, as `voxcall serve`; API only, so the calls it accepts
stay queued) driven by wrk at its capacity (16 connections, closed loop, POST
/voice/single). It uses only SipDialer's and the app's public interfaces, so it runs
against another voxcall checkout too: PYTHONPATH=<checkout>/src:. python -m bench.sip_media.

    python -m bench.sip_media [--calls 100,500,1000,2000] [--rate 200] [--profile DIR]
    python -m bench.sip_media --busy-only [--busy-calls 200] [--busy-rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import json
import math
import os
import re
import resource
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uvicorn
import uvloop

from bench.common import (
    HOST,
    cpu_seconds,
    free_port,
    free_udp_block,
    header,
    percentile,
    profile_summary,
    py_spy,
    require,
    running,
    self_cpu_seconds,
    table,
    verdict,
)
from bench.rtp_capture import Capture, StreamStats, stream_stats
from voxcall.api.app import create_app
from voxcall.audio.tts import synthesize
from voxcall.audio.wav import wav_bytes
from voxcall.calls.dialers import new_dialer
from voxcall.config import Settings
from voxcall.dialers.base import AttemptOutcome, AttemptResult, DialRequest, Voice8k
from voxcall.dialers.sip.config import CallSettings, SipTrunkConfig
from voxcall.dialers.sip.driver import SipDialer
from voxcall.dialers.sip.g711 import pcm_to_ulaw
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.runtime import Services, build_services, freeze_startup_objects
from voxcall.tokens import new_token

SCENARIOS = Path(__file__).with_name("sipp")
VOICE_SECONDS = 20.0
PTIME = 0.020
# Silence voxcall sends after the voice, before its BYE (none before fef6ae9): read so that
# this benchmark also runs against older checkouts.
BYE_TAIL = getattr(CallSettings, "bye_tail", 0.0)


def packets(seconds: float) -> int:
    """The packets of a whole stream playing a voice of `seconds` (the last one padded)."""
    return math.ceil(round((seconds + BYE_TAIL) * Voice8k.SAMPLE_RATE) / (PTIME * 8000))


PACKETS = packets(VOICE_SECONDS)
SIPP_PACKETS = round(VOICE_SECONDS / PTIME)  # rtpstream plays the voice alone
SUCCESSFUL = re.compile(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)")
NUMBER = "09121234567"
UAS_ANSWER_DELAY = 0.5  # uas_answer.xml pauses this long before its 200
TARGET_N = 1000
TARGET_JITTER_MS = 2.0
TARGET_CPU_RATIO = 3.0
TARGET_SETUP = 100.0
TARGET_BUSY_P99_MS = 5.0
TARGET_BUSY_MAX_MS = 20.0
TARGET_LISTEN_RATIO = 1.5  # CPU per call listening (keys and machine detection) / not
LISTEN_GATHER = Gather(max_digits=1, timeout=1)  # the call ends 1 s after the message
WRK_LUA = Path(__file__).with_name("post_single.lua")
SPEECH = "سلام. سفارش شما امروز ارسال شد و فردا به دستتان می‌رسد. برای پیگیری با ما تماس بگیرید."


def speech(seconds: float) -> Voice8k:
    """espeak-ng's Persian, repeated to `seconds`: what a callee's line carries, for the key
    and machine detectors (which give up early on most speech, unlike on `voice`'s tones)."""
    pcm = np.frombuffer(synthesize(SPEECH, "fa"), dtype="<i2")
    return Voice8k(np.resize(pcm, round(seconds * Voice8k.SAMPLE_RATE)).astype("<i2").tobytes())


def voice(seconds: float) -> Voice8k:
    """Speech-like test audio: a wandering two-formant tone, syllable-rate loudness."""
    t = np.arange(round(seconds * Voice8k.SAMPLE_RATE)) / Voice8k.SAMPLE_RATE
    pitch = 400 + 250 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / Voice8k.SAMPLE_RATE
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    signal = envelope * (0.5 * np.sin(phase) + 0.2 * np.sin(2.7 * phase))
    return Voice8k((signal * 0.5 * 32767).astype("<i2").tobytes())


@dataclass
class Level:
    who: str
    calls: int
    right: int  # calls whose outcome is right (SIPp: its successful calls)
    cpu_share: float  # of one core, while all calls were up
    window: float  # seconds of that measurement
    up_at_window: tuple[int, int]  # calls up at its start and end (-1: not known)
    stats: StreamStats
    capture_dropped: int
    setup_p50: float = float("nan")  # seconds, INVITE to 200
    setup_p99: float = float("nan")

    @property
    def cpu_per_call(self) -> float:
        return self.cpu_share / self.calls

    @property
    def all_right(self) -> bool:
        return self.right == self.calls == self.stats.whole == self.stats.streams


@dataclass
class SetupRun:
    offered: float
    calls: int
    right: int
    achieved: float
    p50: float
    p99: float

    @property
    def sustained(self) -> bool:
        return (
            self.right == self.calls
            and self.achieved >= 0.95 * self.offered
            and self.p99 < UAS_ANSWER_DELAY + 1.0
        )


@contextmanager
def uas(work: Path, tag: str, *, echo: bool = False) -> Iterator[tuple[int, int]]:
    """A SIPp UAS answering every call (sending back the RTP it gets, with `echo`); yields
    its SIP port and its media port."""
    port = free_udp_block(2)
    media = free_udp_block(4, low=port + 4)  # SIPp binds the media port and the one 2 above
    args = ["sipp", "-sf", str(SCENARIOS / "uas_answer.xml")]
    args += ["-i", HOST, "-p", str(port), "-mi", HOST, "-mp", str(media)]
    args += ["-nostdin", "-set", "hangup_s", "0", "-trace_err"]
    args += ["-rtp_echo"] if echo else []
    args += ["-error_file", str(work / f"uas-{tag}-errors.log")]
    with running(args, log=work / f"uas-{tag}.log", cwd=work) as process:
        _wait_udp_bound(process, port)
        yield port, media


def _wait_udp_bound(process: subprocess.Popen[bytes], port: int) -> None:
    wanted = f"0100007F:{port:04X}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SIPp exited with {process.returncode} before binding {port}")
        with open("/proc/net/udp") as table_:
            if any(line.split()[1] == wanted for line in table_.readlines()[1:]):
                return
        time.sleep(0.01)
    raise TimeoutError(f"SIPp did not bind {HOST}:{port}")


class Hearing(enum.Enum):
    """What a call listens for in the callee's audio."""

    NOTHING = "deaf"
    MACHINES = "machine detection"
    KEYS_AND_MACHINES = "keys and machine detection"

    @property
    def gather(self) -> Gather | None:
        return LISTEN_GATHER if self is Hearing.KEYS_AND_MACHINES else None


def dial_request(audio: Voice8k, *, hear: Hearing = Hearing.NOTHING) -> DialRequest:
    """A call of `audio`, hearing the callee as `hear` says."""
    return DialRequest(
        attempt_id=uuid.uuid4().hex,
        national_number=NUMBER,
        e164="+98" + NUMBER[1:],
        voice=audio,
        ring_timeout=30.0,
        gather=hear.gather,
        machine_detection=(
            MachineDetection.OFF if hear is Hearing.NOTHING else MachineDetection.DETECT
        ),
    )


def right(outcome: AttemptOutcome, seconds: float, *, hear: Hearing = Hearing.NOTHING) -> bool:
    # billSec runs from the 200 to our BYE, which leaves a packet time after the voice ends
    # (listening: after the gather timeout that follows it, and no key was pressed).
    if hear.gather is not None:
        seconds += hear.gather.timeout
    return (
        outcome.result is AttemptResult.ANSWERED
        and outcome.cause == ("200 OK; gather timeout" if hear.gather else "200 OK; voice played")
        and outcome.bill_sec in (math.ceil(seconds), math.ceil(seconds) + 1)
        and (outcome.answered_by is None) is (hear is Hearing.NOTHING)
    )


async def started_dialer(trunk_port: int, calls: int) -> SipDialer:
    """A SipDialer to the UAS with RTP ports for `calls` calls at once."""
    low = free_udp_block(2 * calls + 64)
    config = SipTrunkConfig.from_options(
        {
            "trunk": f"sip:{HOST}:{trunk_port}",
            "codecs": "PCMA,PCMU",
            "local_ip": HOST,
            "rtp_ports": f"{low}-{low + 2 * calls + 63}",
        }
    )
    dialer = SipDialer(config)
    await dialer.start()
    return dialer


async def dial_at_rate(
    dialer: SipDialer,
    calls: int,
    rate: float,
    audio: Voice8k,
    *,
    hear: Hearing = Hearing.NOTHING,
) -> list[asyncio.Task[AttemptOutcome]]:
    """Start `calls` dials at `rate`/s on a fixed schedule; returns their tasks."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i in range(calls):
        await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        tasks.append(asyncio.create_task(dialer.dial(dial_request(audio, hear=hear))))
    return tasks


def dialer_cpu(dialer: SipDialer) -> float:
    """CPU seconds of this process and of the dialer's media processes (one before
    a checkout of 2026-12-05 split the receiver from the pacer; none before 867b322)."""
    pids = getattr(dialer, "media_pids", None)
    if pids is None:
        media = getattr(dialer, "media_pid", None)
        pids = () if media is None else (media,)
    return self_cpu_seconds() + sum(cpu_seconds(pid) for pid in pids)


async def place_calls(
    trunk_port: int,
    calls: int,
    rate: float,
    audio: Voice8k,
    *,
    window: tuple[float, float] | None = None,
    profile: Path | None = None,
    hear: Hearing = Hearing.NOTHING,
) -> tuple[list[AttemptOutcome], float, float, tuple[int, int]]:
    """Dial `calls` calls at `rate`/s through one SipDialer; returns the outcomes and, over
    `window` (seconds after the first INVITE), this process's CPU, the window's length and
    the calls up at its start and end."""
    dialer = await started_dialer(trunk_port, calls)
    loop = asyncio.get_running_loop()
    try:
        start = loop.time()
        tasks = await dial_at_rate(dialer, calls, rate, audio, hear=hear)
        cpu, wall, up = 0.0, 0.0, (-1, -1)
        if window is not None:
            await asyncio.sleep(max(0.0, start + window[0] - loop.time()))
            spy = None
            if profile is not None:
                out = profile / f"media-voxcall-{calls}.txt"
                spy = py_spy(os.getpid(), window[1] - window[0] - 1, out)
            up_start, cpu0, wall0 = dialer.active_calls, dialer_cpu(dialer), time.monotonic()
            await asyncio.sleep(max(0.0, start + window[1] - loop.time()))
            cpu, wall = dialer_cpu(dialer) - cpu0, time.monotonic() - wall0
            up = (up_start, dialer.active_calls)
            if spy is not None:
                await asyncio.to_thread(spy.wait)
        outcomes = await asyncio.gather(*tasks)
        # Each call ends when its BYE is answered: an echoing UAS, busy with 50,000 packets
        # a second at N = 500, may answer the last ones late.
        async with asyncio.timeout(30):
            await dialer.wait_idle()
    finally:
        await dialer.close()
    return outcomes, cpu, wall, up


def voxcall_level(
    runner: asyncio.Runner,
    work: Path,
    calls: int,
    rate: float,
    profile: Path | None,
    *,
    hear: Hearing = Hearing.NOTHING,
    echo: bool = False,
    audio: Voice8k | None = None,
) -> Level:
    audio = audio or voice(VOICE_SECONDS)
    window = (calls / rate + UAS_ANSWER_DELAY + 0.5, VOICE_SECONDS)
    tag = f"vx-{calls}" + ("-echo" if echo else "") + f"-{hear.name.lower()}"
    with uas(work, tag, echo=echo) as (port, media):
        capture = Capture(media, work / f"{tag}.pcap")
        try:
            outcomes, cpu, wall, up = runner.run(
                place_calls(port, calls, rate, audio, window=window, profile=profile, hear=hear)
            )
        finally:
            _, dropped = capture.stop()
    stats = stream_stats(capture.path, expected=PACKETS, ptime=PTIME)
    capture.path.unlink()
    setups = [o.answered_at - o.started_at for o in outcomes if o.answered_at is not None]
    return Level(
        "voxcall" if hear is Hearing.NOTHING else f"voxcall, {hear.value}",
        calls,
        sum(right(o, VOICE_SECONDS, hear=hear) for o in outcomes),
        cpu / wall if wall else float("nan"),
        wall,
        up,
        stats,
        dropped,
        percentile(setups, 50),
        percentile(setups, 99),
    )


def sipp_level(work: Path, calls: int, rate: float, voice_file: Path) -> Level:
    scenario = work / "uac_play.xml"
    scenario.write_text(
        (SCENARIOS / "uac_play.xml").read_text().replace("VOICE_FILE", str(voice_file))
    )
    window = (calls / rate + UAS_ANSWER_DELAY + 0.5, VOICE_SECONDS)
    with uas(work, f"sipp-{calls}") as (port, media):
        capture = Capture(media, work / f"sipp-{calls}.pcap")
        try:
            uac_port = free_udp_block(2, low=media + 8)
            uac_media = free_udp_block(4, low=uac_port + 4)
            args = ["sipp", "-sf", str(scenario), f"{HOST}:{port}", "-s", NUMBER]
            args += ["-i", HOST, "-p", str(uac_port), "-mi", HOST, "-mp", str(uac_media)]
            args += ["-m", str(calls), "-l", str(calls), "-r", f"{rate:g}"]
            # BYE a little after the voice: rtpstream starts a moment after the ACK.
            args += ["-d", str(round(VOICE_SECONDS * 1000) + 300), "-nostdin"]
            args += ["-timeout", "120s", "-timeout_error", "-trace_err"]
            args += ["-error_file", str(work / f"uac-{calls}-errors.log")]
            with running(args, log=work / f"uac-{calls}.log", cwd=work) as uac:
                start = time.monotonic()
                time.sleep(max(0.0, start + window[0] - time.monotonic()))
                cpu0, wall0 = cpu_seconds(uac.pid), time.monotonic()
                time.sleep(max(0.0, start + window[1] - time.monotonic()))
                cpu, wall = cpu_seconds(uac.pid) - cpu0, time.monotonic() - wall0
                code = uac.wait(VOICE_SECONDS + calls / rate + 60)
        finally:
            _, dropped = capture.stop()
    stats = stream_stats(capture.path, expected=SIPP_PACKETS, ptime=PTIME)
    capture.path.unlink()
    found = SUCCESSFUL.findall((work / f"uac-{calls}.log").read_text(errors="replace"))
    successful = int(found[-1]) if found else 0
    if code != 0:
        print(f"# SIPp UAC exited with {code}; see uac-{calls}.log")
    return Level("SIPp UAC", calls, successful, cpu / wall, wall, (-1, -1), stats, dropped)


def setup_run(runner: asyncio.Runner, work: Path, offered: float) -> SetupRun:
    seconds = 1.0
    calls = round(offered * 4)
    with uas(work, f"setup-{offered:g}") as (port, _):
        outcomes, *_ = runner.run(place_calls(port, calls, offered, voice(seconds)))
    starts = [o.started_at for o in outcomes]
    answers = [o.answered_at for o in outcomes if o.answered_at is not None]
    setups = [o.answered_at - o.started_at for o in outcomes if o.answered_at is not None]
    span = max(answers) - min(starts) - UAS_ANSWER_DELAY if answers else float("inf")
    return SetupRun(
        offered,
        calls,
        sum(right(o, seconds) for o in outcomes),
        len(answers) / span if span > 0 else 0.0,
        percentile(setups, 50),
        percentile(setups, 99),
    )


@dataclass
class BusyRun:
    """Streams already playing, measured while new calls are set up and the API is loaded."""

    established: int
    stats: StreamStats  # of the established streams, gaps inside the load window
    capture_dropped: int
    established_right: int
    seconds: float  # the load window
    new_offered: float  # calls/s
    new_calls: int
    new_right: int
    new_setup_p99: float
    api_requests: int
    api_errors: int
    api_p99_ms: float

    @property
    def holds(self) -> bool:
        return (
            self.stats.jitter_p99_ms <= TARGET_BUSY_P99_MS
            and self.stats.jitter_max_ms <= TARGET_BUSY_MAX_MS
            and self.established_right == self.established == self.stats.whole
        )


def voxcall_api(work: Path) -> tuple[Services, uvicorn.Server, int, str, str]:
    """A voxcall app (the API only: calls stay queued) for uvicorn to serve on this loop, as
    `voxcall serve` does; returns its services, the server, its port, a token, a voice id."""
    services = build_services(Settings.load(work / "data"))
    store = services.store
    store.add_dialer(new_dialer("sandbox", "sandbox", "Sandbox", {}, is_default=True))
    project = store.create_project("bench", rate_limit=1_000_000, allowed_regions=["IR"])
    token = new_token()
    store.add_token(project.id, prefix=token.prefix, token_hash=token.token_hash)
    pcm = voice(3.0).pcm
    uploaded = services.voices.upload(project, wav_bytes(pcm), name="bench", filename="b.wav")
    port = free_port()
    config = uvicorn.Config(
        create_app(services, run_worker=False), host=HOST, port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    freeze_startup_objects()
    return services, server, port, token.token, uploaded.id


async def drive_api(port: int, token: str, voice_id: str, seconds: float) -> dict[str, float]:
    """wrk, closed loop, 16 connections on POST /voice/single: the API at its capacity."""
    env = dict(os.environ, BENCH_TOKEN=token, BENCH_VOICE=voice_id, BENCH_RATE="0")
    args = ["wrk", "-t1", "-c16", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(WRK_LUA)]
    process = await asyncio.create_subprocess_exec(
        *args,
        f"http://{HOST}:{port}/api/v2/voice/single",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    output = (await process.communicate())[0].decode()
    line = next((x for x in output.splitlines() if x.startswith("BENCH_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    summary: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
    return summary


async def busy_calls(
    work: Path, trunk_port: int, established: int, rate: float, seconds: float
) -> tuple[list[AttemptOutcome], list[AttemptOutcome], dict[str, float], tuple[float, float]]:
    """`established` calls answered first; then, for `seconds`, new calls at `rate`/s and
    wrk on the API, all on this loop. Returns both sets of outcomes, wrk's summary and the
    load window (epoch seconds)."""
    services, server, port, token, voice_id = voxcall_api(work)
    serving = asyncio.create_task(server.serve())
    # New calls live about 2 s each (answer, 1 s voice, BYE): 3 s worth of ports is plenty.
    dialer = await started_dialer(trunk_port, established + round(3 * rate))
    try:
        long_voice = voice(busy_voice_seconds(established, rate, seconds))
        first = await dial_at_rate(dialer, established, rate, long_voice)
        await asyncio.sleep(UAS_ANSWER_DELAY + 1)  # every established call answered
        if not server.started:
            raise RuntimeError("uvicorn has not started")
        window = (time.time(), time.time() + seconds)
        api = asyncio.create_task(drive_api(port, token, voice_id, seconds))
        new = await dial_at_rate(dialer, round(rate * seconds), rate, voice(1.0))
        summary = await api
        new_outcomes = await asyncio.gather(*new)
        first_outcomes = await asyncio.gather(*first)
        async with asyncio.timeout(10):
            await dialer.wait_idle()
    finally:
        await dialer.close()
        server.should_exit = True
        await serving
        services.store.close()
    return first_outcomes, new_outcomes, summary, window


def busy_voice_seconds(established: int, rate: float, seconds: float) -> float:
    """Long enough for the established calls to play through the whole load window."""
    return established / rate + UAS_ANSWER_DELAY + 1 + seconds + 2


def busy_run(
    runner: asyncio.Runner, work: Path, established: int, rate: float, seconds: float
) -> BusyRun:
    with uas(work, "busy") as (port, media):
        capture = Capture(media, work / "busy.pcap")
        try:
            first, new, summary, window = runner.run(
                busy_calls(work, port, established, rate, seconds)
            )
        finally:
            _, dropped = capture.stop()
    length = busy_voice_seconds(established, rate, seconds)
    stats = stream_stats(
        capture.path,
        expected=packets(length),
        ptime=PTIME,
        started_before=window[0],
        window=window,
    )
    capture.path.unlink()
    setups = [o.answered_at - o.started_at for o in new if o.answered_at is not None]
    errors = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    return BusyRun(
        established=established,
        stats=stats,
        capture_dropped=dropped,
        established_right=sum(right(o, length) for o in first),
        seconds=seconds,
        new_offered=rate,
        new_calls=len(new),
        new_right=sum(right(o, 1.0) for o in new),
        new_setup_p99=percentile(setups, 99),
        api_requests=int(summary["requests"]),
        api_errors=sum(int(summary[k]) for k in errors),
        api_p99_ms=summary["p99_us"] / 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="100,500,1000,2000", help="simultaneous calls")
    parser.add_argument("--rate", type=float, default=200.0, help="calls/s while ramping up")
    parser.add_argument("--setup-rates", default="100,200,400", help="calls/s offered")
    parser.add_argument("--profile", type=Path, help="py-spy voxcall at each N here")
    parser.add_argument(
        "--busy-calls", type=int, default=200, help="calls playing while others are set up"
    )
    parser.add_argument("--busy-rate", type=float, default=200.0, help="new calls/s meanwhile")
    parser.add_argument("--busy-seconds", type=float, default=8.0, help="how long")
    parser.add_argument("--busy-only", action="store_true", help="only that scenario")
    parser.add_argument("--listen-calls", default="500", help="calls hearing the callee")
    parser.add_argument("--listen-only", action="store_true", help="only that scenario")
    parser.add_argument(
        "--listen-rounds", type=int, default=3, help="times each listening level runs, in turn"
    )
    args = parser.parse_args()
    if args.listen_only:
        listening(args)
        return
    require("sipp", "dumpcap")
    levels = [] if args.busy_only else [int(n) for n in args.calls.split(",")]
    setup_rates = [] if args.busy_only else [float(r) for r in args.setup_rates.split(",")]
    if any(n / args.rate + UAS_ANSWER_DELAY + 3 > VOICE_SECONDS for n in levels):
        parser.error("--rate too low: every call must be up before the first one ends")
    # One RTP socket per call, besides SIP and the capture.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    most = max([*levels, args.busy_calls + round(3 * args.busy_rate)])
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * most + 256)), hard))
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results: list[tuple[Level, Level]] = []
    setups: list[SetupRun] = []
    with (
        tempfile.TemporaryDirectory(prefix="voxcall-bench-media-") as folder,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        work = Path(folder)
        voice_file = work / "voice.ul"
        voice_file.write_bytes(pcm_to_ulaw(voice(VOICE_SECONDS).pcm))
        for calls in levels:
            vx = voxcall_level(runner, work, calls, args.rate, args.profile)
            base = sipp_level(work, calls, args.rate, voice_file)
            results.append((vx, base))
            print(
                f"# N={calls}: voxcall {100 * vx.cpu_share:.0f}% CPU, jitter p99 "
                f"{vx.stats.jitter_p99_ms:.2f} ms, {vx.right} right, {vx.stats.whole} whole; SIPp "
                f"{100 * base.cpu_share:.0f}% CPU, jitter p99 {base.stats.jitter_p99_ms:.2f} ms",
                flush=True,
            )
        for offered in setup_rates:
            setups.append(setup_run(runner, work, offered))
        busy = busy_run(runner, work, args.busy_calls, args.busy_rate, args.busy_seconds)
    if results or setups:
        report(args, results, setups)
    report_busy(busy)


def report(
    args: argparse.Namespace, results: list[tuple[Level, Level]], setups: list[SetupRun]
) -> None:
    print(header("SIP media: simultaneous calls into a SIPp UAS", "python -m bench.sip_media"))
    print(
        f"Voice {VOICE_SECONDS:g} s, G.711 PCMU, 20 ms packets; calls ramped at {args.rate:g}/s.\n"
    )
    rows: list[list[object]] = []
    for vx, base in results:
        for level in (vx, base):
            s = level.stats
            rows.append(
                [
                    level.calls,
                    level.who,
                    f"{level.right}/{level.calls}",
                    f"{s.whole}/{s.streams}",
                    f"{s.per_stream_min}-{s.per_stream_max}",
                    s.missing,
                    s.jitter_p50_ms,
                    s.jitter_p99_ms,
                    s.jitter_max_ms,
                    f"{100 * level.cpu_share:.1f}%",
                    f"{1000 * level.cpu_per_call:.3f}",
                    level.capture_dropped,
                ]
            )
        rows.append(
            [
                vx.calls,
                "voxcall / SIPp",
                "",
                "",
                "",
                "",
                "",
                f"{vx.stats.jitter_p99_ms / base.stats.jitter_p99_ms:.2f}",
                "",
                "",
                f"{vx.cpu_per_call / base.cpu_per_call:.2f}",
                "",
            ]
        )
    print(
        table(
            [
                "N",
                "caller",
                "outcomes right",
                "whole streams",
                "pkts/stream",
                "missing",
                "jitter p50 ms",
                "p99 ms",
                "max ms",
                "CPU (1 core)",
                "CPU per call (m-core)",
                "capture drops",
            ],
            rows,
        )
    )
    print()
    for vx, _ in results:
        print(
            f"voxcall N={vx.calls}: calls up at the CPU window's start/end {vx.up_at_window}, "
            f"window {vx.window:.1f} s; setup INVITE->200 p50 {vx.setup_p50 * 1000:.0f} ms, "
            f"p99 {vx.setup_p99 * 1000:.0f} ms (the UAS waits {UAS_ANSWER_DELAY * 1000:.0f} ms)"
        )
    print()
    print(
        table(
            [
                "offered calls/s",
                "calls",
                "right",
                "answered/s",
                "setup p50 ms",
                "p99 ms",
                "sustained",
            ],
            [
                [s.offered, s.calls, s.right, s.achieved, 1000 * s.p50, 1000 * s.p99, s.sustained]
                for s in setups
            ],
        )
    )
    at_target = next(((vx, b) for vx, b in results if vx.calls == TARGET_N), None)
    sustained = max((s.offered for s in setups if s.sustained), default=0.0)
    verdicts: list[list[object]] = []
    if at_target is not None:
        vx, base = at_target
        verdicts.append(
            [
                f"N={TARGET_N}: p99 jitter, calls right",
                f"{vx.stats.jitter_p99_ms:.2f} ms, {vx.right} outcomes and "
                f"{vx.stats.whole} streams right of {vx.calls}",
                f"<= {TARGET_JITTER_MS:g} ms, all",
                verdict(vx.stats.jitter_p99_ms <= TARGET_JITTER_MS and vx.all_right),
            ]
        )
    for vx, base in results:
        ratio = vx.cpu_per_call / base.cpu_per_call
        verdicts.append(
            [
                f"N={vx.calls}: CPU per call voxcall / SIPp",
                f"{ratio:.2f}",
                f"<= {TARGET_CPU_RATIO:g}",
                verdict(ratio <= TARGET_CPU_RATIO),
            ]
        )
    verdicts.append(
        [
            "call setup sustained",
            f"{sustained:g} calls/s",
            f">= {TARGET_SETUP:g}",
            verdict(sustained >= TARGET_SETUP),
        ]
    )
    print()
    print(table(["target", "measured", "wanted", "verdict"], verdicts))
    if args.profile is not None:
        for vx, _ in results:
            out = args.profile / f"media-voxcall-{vx.calls}.txt"
            if out.exists():
                print(f"\nProfile of voxcall, N={vx.calls} (py-spy, {out}):\n")
                print(profile_summary(out))


def report_busy(busy: BusyRun) -> None:
    print(
        header(
            "SIP media: established streams while calls are set up and the API is loaded",
            "python -m bench.sip_media --busy-only",
        )
    )
    s = busy.stats
    print(
        f"{busy.established} calls playing (20 ms G.711 packets into a SIPp UAS), measured for "
        f"{busy.seconds:g} s while the same voxcall process and event loop set up "
        f"{busy.new_offered:g} new calls/s (1 s voices) and answer wrk (16 connections, closed "
        "loop) on POST /api/v2/voice/single. Jitter: |gap - 20 ms| at the receiver, over the "
        "gaps of the established streams inside the load window.\n"
    )
    print(
        table(
            [
                "established right",
                "whole streams",
                "pkts/stream",
                "missing",
                "jitter p50 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
                "capture drops",
                "new calls right",
                "setup p99 ms",
                "API requests/s",
                "API p99 ms",
                "API errors",
            ],
            [
                [
                    f"{busy.established_right}/{busy.established}",
                    f"{s.whole}/{s.streams}",
                    f"{s.per_stream_min}-{s.per_stream_max}",
                    s.missing,
                    s.jitter_p50_ms,
                    s.jitter_p99_ms,
                    s.jitter_p999_ms,
                    s.jitter_max_ms,
                    busy.capture_dropped,
                    f"{busy.new_right}/{busy.new_calls}",
                    1000 * busy.new_setup_p99,
                    busy.api_requests / busy.seconds,
                    busy.api_p99_ms,
                    busy.api_errors,
                ]
            ],
        )
    )
    print()
    print(
        table(
            ["target", "measured", "wanted", "verdict"],
            [
                [
                    "established streams under load: jitter p99, max",
                    f"{s.jitter_p99_ms:.2f} ms, {s.jitter_max_ms:.2f} ms",
                    f"<= {TARGET_BUSY_P99_MS:g} ms, <= {TARGET_BUSY_MAX_MS:g} ms, all right",
                    verdict(busy.holds),
                ]
            ],
        )
    )


def _noted(level: Level) -> Level:
    print(
        f"# N={level.calls}, {level.who}: {100 * level.cpu_share:.0f}% CPU, {level.right} right",
        flush=True,
    )
    return level


def listening(args: argparse.Namespace) -> None:
    """The cost of hearing the callee: the same calls with an echoing UAS, deaf, with
    machine detection, and with key presses and machine detection, `--listen-rounds` times
    in turn (a deaf run's CPU alone varies by a tenth from run to run)."""
    require("sipp", "dumpcap")
    levels = [int(n) for n in args.listen_calls.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * max(levels) + 256)), hard))
    runs: list[list[list[Level]]] = []  # per N, per round: deaf, machines, both
    with (
        tempfile.TemporaryDirectory(prefix="voxcall-bench-listen-") as folder,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        work = Path(folder)
        audio = speech(VOICE_SECONDS)
        for calls in levels:
            runs.append(
                [
                    [
                        _noted(
                            voxcall_level(
                                runner,
                                work,
                                calls,
                                args.rate,
                                None,
                                hear=hear,
                                echo=True,
                                audio=audio,
                            )
                        )
                        for hear in Hearing
                    ]
                    for _ in range(args.listen_rounds)
                ]
            )
    print(
        header(
            "SIP media: the cost of hearing the callee", "python -m bench.sip_media --listen-only"
        )
    )
    print(
        f"Voice: {VOICE_SECONDS:g} s of espeak-ng Persian, echoed back by the UAS; calls ramped"
        f" at {args.rate:g}/s; keys = gather (1 key, 1 s timeout), machine detection = detect."
        " CPU per call: this process and the media processes, while all calls are up."
        f" {args.listen_rounds} rounds of the three, in turn; the verdict is on their means.\n"
    )
    rows = []
    for rounds in runs:
        named = [(f"round {i + 1}", levels_) for i, levels_ in enumerate(rounds)]
        for name, (deaf, machines, both) in [*named, ("mean", _means(rounds))]:
            ratio = both.cpu_per_call / deaf.cpu_per_call
            rows.append(
                [
                    f"{deaf.calls:,}",
                    name,
                    f"{100 * deaf.cpu_per_call:.3f} %",
                    f"{100 * machines.cpu_per_call:.3f} % "
                    f"({machines.cpu_per_call / deaf.cpu_per_call:.2f}x)",
                    f"{100 * both.cpu_per_call:.3f} % ({ratio:.2f}x)",
                    " / ".join(str(level.right) for level in (deaf, machines, both)),
                    " / ".join(
                        f"{level.stats.jitter_p99_ms:.2f}" for level in (deaf, machines, both)
                    ),
                    verdict(ratio <= TARGET_LISTEN_RATIO) if name == "mean" else "",
                ]
            )
    print(
        table(
            [
                "N",
                "run",
                "deaf",
                "machine detection",
                "keys and machine detection (target <= 1.5x)",
                "calls right",
                "jitter p99, ms",
                "target",
            ],
            rows,
        )
    )


def _means(rounds: list[list[Level]]) -> list[Level]:
    """Each hearing's level with the mean CPU of its rounds, the calls right of all of
    them, and the worst jitter."""
    means = []
    for same in zip(*rounds, strict=True):
        worst = max(same, key=lambda level: level.stats.jitter_p99_ms)
        means.append(
            dataclasses.replace(
                worst,
                cpu_share=sum(level.cpu_share for level in same) / len(same),
                right=min(level.right for level in same),
            )
        )
    return means


if __name__ == "__main__":
    main()
