"""RTP ports and the pacer, with real UDP sockets on loopback.

Most pacer tests drive it with a fake clock (`paced`): packet times are then exact and no
test sleeps for them. The tests of its thread run it on the wall clock; their timing
assertions are loose on purpose (a shared 2-core machine): they catch a pacer that bunches,
drifts or sends at the wrong rate, not sub-millisecond jitter.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pytest

from tests.dialers.sip.pacer_clock import CapturingSocket, FakeClock, run_out
from voxcall.dialers.sip.g711 import pcm_to_alaw, pcm_to_ulaw
from voxcall.dialers.sip.media import PlaybackReport, RtpPacer, RtpPortPool, silence_byte
from voxcall.dialers.sip.rtp import RtpPacket

PTIME = 0.020
_T = TypeVar("_T")
Capturing = Callable[[], CapturingSocket]


def tone(seconds: float, extra_bytes: int = 0, frequency: float = 440.0) -> bytes:
    """Signed 16-bit PCM: `seconds` of a sine plus `extra_bytes / 2` more samples."""
    count = round(seconds * 8000) + extra_bytes // 2
    samples = 8000 * np.sin(2 * np.pi * frequency * np.arange(count) / 8000)
    return samples.astype("<i2").tobytes()


@dataclass
class Arrival:
    at: float  # loop.time() when the datagram was read
    packet: RtpPacket


class Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        at = asyncio.get_running_loop().time()
        self.arrivals.append(Arrival(at, RtpPacket.parse(data)))


async def listening() -> AsyncIterator[tuple[Receiver, tuple[str, int]]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(Receiver, local_addr=("127.0.0.1", 0))
    yield protocol, transport.get_extra_info("sockname")
    transport.close()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, tuple[str, int]]]:
    async for listener in listening():
        yield listener


@pytest.fixture
async def other_receiver() -> AsyncIterator[tuple[Receiver, tuple[str, int]]]:
    """A second receiver: where a redirected stream goes."""
    async for listener in listening():
        yield listener


@pytest.fixture
def udp() -> Iterator[Callable[[], socket.socket]]:
    """Non-blocking UDP sockets on 127.0.0.1, closed after the test."""
    opened: list[socket.socket] = []

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        opened.append(sock)
        return sock

    yield make
    for sock in opened:
        sock.close()


def pacer_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "voxcall-rtp-pacer"}


@pytest.fixture(autouse=True)
def no_leaked_pacer_thread() -> Iterator[None]:
    """Every pacer a test starts has stopped its thread by the end of the test."""
    before = pacer_threads()
    yield
    assert pacer_threads() <= before


@pytest.fixture
def pacer() -> Iterator[RtpPacer]:
    """A pacer on the wall clock, in a thread of its own."""
    pacer = RtpPacer(PTIME)
    yield pacer
    pacer.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def paced(clock: FakeClock) -> Iterator[RtpPacer]:
    """A pacer on the fake clock: no thread, nothing is sent until the clock moves."""
    pacer = RtpPacer(PTIME, clock=clock)
    yield pacer
    pacer.close()


@pytest.fixture
def capturing(clock: FakeClock) -> Iterator[Capturing]:
    opened: list[CapturingSocket] = []

    def make() -> CapturingSocket:
        opened.append(CapturingSocket(clock))
        return opened[-1]

    yield make
    for sock in opened:
        sock.close()


@pytest.fixture
def sink(udp: Callable[[], socket.socket]) -> tuple[str, int]:
    """Where captured streams go: a bound UDP port that nobody reads."""
    address: tuple[str, int] = udp().getsockname()
    return address


async def ended(awaitable: Awaitable[_T]) -> _T:
    """Await the end of a stream, failing instead of hanging if the pacer is broken."""
    return await asyncio.wait_for(awaitable, timeout=10)


async def settle() -> None:
    """Let datagrams already sent on loopback reach the receiver."""
    await asyncio.sleep(0.03)


def check_stream(arrivals: list[Arrival], payload: bytes, payload_type: int) -> None:
    """Everything a receiver expects of one complete, unbroken stream."""
    check_packets([arrival.packet for arrival in arrivals], payload, payload_type)


def check_packets(packets: list[RtpPacket], payload: bytes, payload_type: int) -> None:
    assert len(packets) == -(-len(payload) // 160)
    assert [p.marker for p in packets] == [True] + [False] * (len(packets) - 1)
    assert {p.payload_type for p in packets} == {payload_type}
    assert len({p.ssrc for p in packets}) == 1
    first = packets[0]
    assert [p.sequence_number for p in packets] == [
        (first.sequence_number + i) % 65536 for i in range(len(packets))
    ]
    assert [p.timestamp for p in packets] == [
        (first.timestamp + 160 * i) % 2**32 for i in range(len(packets))
    ]
    assert all(len(p.payload) == 160 for p in packets)
    padding = bytes([silence_byte(payload_type)]) * (-len(payload) % 160)
    assert b"".join(p.payload for p in packets) == payload + padding


async def test_stream_is_complete_and_paced(
    pacer: RtpPacer, receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    protocol, address = receiver
    payload = pcm_to_ulaw(tone(1.0, extra_bytes=74))  # 50 packets + 37 bytes
    report = await ended(pacer.play(udp(), address, payload, 0))
    await settle()

    check_stream(protocol.arrivals, payload, 0)
    assert report.packets_sent == 51
    assert report.packets_skipped == 0
    expected = 51 * PTIME
    assert expected * 0.85 < report.duration < expected * 1.15
    span = protocol.arrivals[-1].at - protocol.arrivals[0].at
    assert 50 * PTIME * 0.85 < span < 50 * PTIME * 1.15


async def test_packet_n_is_sent_at_start_plus_n_packet_times(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    sock = capturing()
    start = clock.now
    payload = pcm_to_ulaw(tone(0.2))  # 10 packets
    report = run_out(clock, paced.play(sock, sink, payload, 0))
    check_packets(sock.packets, payload, 0)
    assert [sent.at - start for sent in sock.sent] == pytest.approx([n * PTIME for n in range(10)])
    assert {sent.to for sent in sock.sent} == {sink}
    assert report == PlaybackReport(10, 0, pytest.approx(10 * PTIME))


async def test_pcma_last_packet_is_padded_with_alaw_silence(
    pacer: RtpPacer, receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    protocol, address = receiver
    payload = pcm_to_alaw(tone(0.1, extra_bytes=2))  # 5 packets + 1 byte
    report = await ended(pacer.play(udp(), address, payload, 8))
    await settle()
    check_stream(protocol.arrivals, payload, 8)
    assert protocol.arrivals[-1].packet.payload == payload[-1:] + b"\xd5" * 159
    assert report == PlaybackReport(6, 0, report.duration)


async def test_concurrent_streams_share_one_timer(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wakeups: list[float] = []
    on_timer = paced._on_timer

    def counting_on_timer() -> None:
        wakeups.append(clock.now)
        on_timer()

    monkeypatch.setattr(paced, "_on_timer", counting_on_timer)
    payloads = [
        (pcm_to_ulaw(tone(0.3 + 0.02 * i, extra_bytes=6 * i, frequency=300 + 50 * i)), 0)
        if i % 2
        else (pcm_to_alaw(tone(0.3 + 0.02 * i, extra_bytes=6 * i, frequency=300 + 50 * i)), 8)
        for i in range(12)
    ]
    socks = [capturing() for _ in payloads]
    futures = [
        paced.play(sock, sink, payload, pt)
        for sock, (payload, pt) in zip(socks, payloads, strict=True)
    ]
    assert paced.active_streams == 12
    reports = [run_out(clock, future) for future in futures]

    for sock, (payload, pt), report in zip(socks, payloads, reports, strict=True):
        check_packets(sock.packets, payload, pt)
        assert (report.packets_sent, report.packets_skipped) == (len(sock.sent), 0)
    # A timer per stream would fire once per packet: 222 times. One shared timer wakes only
    # when a packet is due, for every packet due then: with 4 phases, every 5 ms.
    send_times = {sent.at for sock in socks for sent in sock.sent}
    assert sorted(wakeups) == sorted(send_times)
    assert len(wakeups) < sum(report.packets_sent for report in reports) / 2
    assert paced.active_streams == 0
    assert clock.timers == 0  # and it stopped with the last stream


async def test_streams_are_spread_over_the_phases(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    payload = pcm_to_ulaw(tone(0.3))
    socks = [capturing() for _ in range(8)]
    start = clock.now
    for future in [paced.play(sock, sink, payload, 0) for sock in socks]:
        run_out(clock, future)
    # 4 phases put two streams at each of 0, 5, 10 and 15 ms into the 20 ms cycle, and every
    # stream keeps its phase to the end.
    phases = [{round((sent.at - start) * 1000) % 20 for sent in sock.sent} for sock in socks]
    assert sorted(phases, key=min) == [{0}, {0}, {5}, {5}, {10}, {10}, {15}, {15}]


class NearWrap(random.Random):
    """Every random field starts 3 below the point where it wraps around."""

    def getrandbits(self, k: int) -> int:
        return (1 << k) - 3


async def test_sequence_and_timestamp_wrap_around(
    receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    protocol, address = receiver
    pacer = RtpPacer(PTIME, rng=NearWrap())
    payload = pcm_to_ulaw(tone(0.12))  # 6 packets
    try:
        await ended(pacer.play(udp(), address, payload, 0))
    finally:
        pacer.close()
    await settle()
    packets = [arrival.packet for arrival in protocol.arrivals]
    assert [p.sequence_number for p in packets] == [65533, 65534, 65535, 0, 1, 2]
    assert [p.timestamp for p in packets] == [
        2**32 - 3,
        157,
        317,
        477,
        637,
        797,
    ]
    assert {p.ssrc for p in packets} == {2**32 - 3}
    check_stream(protocol.arrivals, payload, 0)


async def test_cancelling_stops_the_stream_at_once(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    sock = capturing()
    future = paced.play(sock, sink, pcm_to_ulaw(tone(2.0)), 0)
    clock.advance(0.21)
    assert len(sock.sent) == 11  # at 0, 20, ..., 200 ms
    future.cancel()
    await asyncio.sleep(0)  # the future's callbacks run: the stream stops
    assert paced.active_streams == 0
    clock.advance(0.1)
    assert len(sock.sent) == 11
    assert future.cancelled()


async def test_cancelling_the_awaiting_task_stops_the_stream(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    sock = capturing()

    async def call() -> PlaybackReport:
        return await paced.play(sock, sink, pcm_to_ulaw(tone(2.0)), 0)

    task = asyncio.create_task(call())
    await asyncio.sleep(0)  # the task plays
    clock.advance(0.11)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert len(sock.sent) == 6
    clock.advance(0.1)
    assert len(sock.sent) == 6
    assert paced.active_streams == 0


async def test_refused_destination_fails_only_its_stream(
    pacer: RtpPacer, receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    protocol, address = receiver
    dead = udp()
    dead_address = dead.getsockname()
    dead.close()
    refused = udp()
    # Linux reports ICMP port unreachable only to connected UDP sockets.
    refused.connect(dead_address)
    payload = pcm_to_ulaw(tone(0.4))

    failing = pacer.play(refused, dead_address, payload, 0)
    healthy = pacer.play(udp(), address, payload, 0)
    with pytest.raises(ConnectionRefusedError):
        await ended(failing)
    report = await ended(healthy)
    await settle()
    check_stream(protocol.arrivals, payload, 0)
    assert report.packets_sent == 20


async def test_a_stream_to_a_port_nobody_listens_on_plays_to_its_end(
    pacer: RtpPacer, udp: Callable[[], socket.socket]
) -> None:
    # A callee that has gone draws ICMP port unreachable for every packet. Our RTP sockets,
    # like the pool's, are unconnected and have no IP_RECVERR: Linux drops those errors, so
    # nothing is queued on the socket to fail a send or wake (or spin) a loop.
    gone = udp()
    dead_address = gone.getsockname()
    gone.close()
    sock = udp()
    report = await ended(pacer.play(sock, dead_address, pcm_to_ulaw(tone(0.4)), 0))
    assert (report.packets_sent, report.packets_skipped) == (20, 0)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


async def test_socket_closed_mid_stream_ends_it_with_the_error(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    sock = capturing()
    future = paced.play(sock, sink, pcm_to_ulaw(tone(1.0)), 0)
    clock.advance(0.11)
    sock.close()
    clock.advance(0.02)
    with pytest.raises(OSError) as info:
        future.result()
    assert info.value.errno == errno.EBADF
    assert len(sock.sent) == 6


async def test_slightly_late_loop_sends_the_backlog(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    sock = capturing()
    payload = pcm_to_ulaw(tone(0.4))
    start = clock.now
    future = paced.play(sock, sink, payload, 0)
    clock.advance(0.11)  # packets 0 to 5 on time
    clock.stall(0.06)  # the loop was busy: packets 6 to 8 fell due meanwhile
    report = run_out(clock, future)
    check_packets(sock.packets, payload, 0)
    assert report.packets_skipped == 0
    late = [sent for sent in sock.sent if sent.at == pytest.approx(start + 0.17)]
    assert len(late) == 3  # the backlog went out together


async def test_very_late_loop_skips_ahead(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    sock = capturing()
    payload = pcm_to_ulaw(tone(0.6))  # 30 packets
    future = paced.play(sock, sink, payload, 0)
    clock.advance(0.11)  # packets 0 to 5 on time
    clock.stall(0.245)  # 12 more fell due: more than MAX_LAG behind
    report = run_out(clock, future)

    packets = sock.packets
    assert report.packets_sent == len(packets) == 19
    # 11 skipped: of the 12 late packets only the newest is sent
    assert report.packets_skipped == 11
    # Sequence numbers stay contiguous; timestamps jump over the audio that was skipped.
    first = packets[0]
    assert [p.sequence_number for p in packets] == [
        (first.sequence_number + i) % 65536 for i in range(len(packets))
    ]
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert all(step % 160 == 0 for step in steps)
    assert sum(step // 160 - 1 for step in steps) == report.packets_skipped
    assert max(steps) > 160
    for packet in packets:
        index = (packet.timestamp - first.timestamp) % 2**32 // 160
        assert packet.payload == payload[index * 160 : (index + 1) * 160]
    assert [p.marker for p in packets].count(True) == 1


async def test_empty_payload_resolves_at_once(
    pacer: RtpPacer, receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    _, address = receiver
    future = pacer.play(udp(), address, b"", 8)
    assert future.done()
    assert await future == PlaybackReport(0, 0, 0.0)
    assert pacer.active_streams == 0


async def test_close_cancels_streams_and_refuses_new_ones(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    socks = [capturing() for _ in range(3)]
    futures = [paced.play(sock, sink, pcm_to_ulaw(tone(1.0)), 0) for sock in socks]
    clock.advance(0.05)
    sent = [len(sock.sent) for sock in socks]
    assert min(sent) >= 2
    paced.close()
    assert all(future.cancelled() for future in futures)
    assert paced.active_streams == 0
    clock.advance(0.1)
    assert [len(sock.sent) for sock in socks] == sent
    assert clock.timers == 0
    with pytest.raises(RuntimeError, match=r"^RtpPacer is closed$"):
        paced.play(capturing(), sink, b"\xff" * 160, 0)


async def test_close_joins_the_pacer_thread(
    receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    _, address = receiver
    pacer = RtpPacer()
    before = pacer_threads()
    futures = [pacer.play(udp(), address, pcm_to_ulaw(tone(1.0)), 0) for _ in range(3)]
    assert len(pacer_threads() - before) == 1
    pacer.close()
    assert pacer_threads() == before  # joined
    assert all(future.cancelled() for future in futures)


@pytest.mark.parametrize(
    ("remote", "payload_type", "message"),
    [
        (("127.0.0.1", 4000), 18, "payload type 18 is not G.711: expected 0 (PCMU) or 8 (PCMA)"),
        (("localhost", 4000), 0, "RTP destination 'localhost' is not an IP address"),
        (("127.0.0.1", 0), 0, "RTP destination port 0 is not in 1-65535"),
    ],
)
async def test_play_rejects_bad_arguments(
    pacer: RtpPacer,
    udp: Callable[[], socket.socket],
    remote: tuple[str, int],
    payload_type: int,
    message: str,
) -> None:
    with pytest.raises(ValueError) as info:
        pacer.play(udp(), remote, b"\xff" * 160, payload_type)
    assert str(info.value) == message
    assert pacer.active_streams == 0


async def test_play_rejects_blocking_sockets(
    pacer: RtpPacer, udp: Callable[[], socket.socket]
) -> None:
    sock = udp()
    sock.setblocking(True)
    with pytest.raises(ValueError, match=r"^RTP socket must be non-blocking"):
        pacer.play(sock, ("127.0.0.1", 4000), b"\xff" * 160, 0)


def test_pacer_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match=r"^ptime 0.0001 is not a whole number of 1/8000 s"):
        RtpPacer(0.0001)
    with pytest.raises(ValueError, match=r"^ptime 0 is not"):
        RtpPacer(0)
    with pytest.raises(ValueError, match=r"^phases must be at least 1, got 0$"):
        RtpPacer(phases=0)


async def test_other_ptime_and_single_phase(
    receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    protocol, address = receiver
    pacer = RtpPacer(0.030, phases=1)
    payload = pcm_to_ulaw(tone(0.3))
    try:
        report = await ended(pacer.play(udp(), address, payload, 0))
    finally:
        pacer.close()
    await settle()
    packets = [arrival.packet for arrival in protocol.arrivals]
    assert report.packets_sent == len(packets) == 10
    assert all(len(p.payload) == 240 for p in packets)
    assert [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)] == [
        240
    ] * 9


def test_silence_byte() -> None:
    assert silence_byte(0) == 0xFF
    assert silence_byte(8) == 0xD5
    with pytest.raises(ValueError, match=r"^payload type 101 is not G.711"):
        silence_byte(101)


# RtpPortPool


def free_port_range(size: int) -> tuple[int, int]:
    """An even-based range of `size` ports on 127.0.0.1 that are free right now, below the
    ephemeral range (so port-0 binds elsewhere do not land in it) and away from the peers'."""
    chooser = random.Random()
    for _ in range(100):
        low = chooser.randrange(10000, 19000, 2)
        probes: list[socket.socket] = []
        try:
            for port in range(low, low + size):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return low, low + size - 1
    raise RuntimeError("no free port range found")


@pytest.fixture
def pool_range() -> tuple[int, int]:
    return free_port_range(8)


def test_pool_opens_even_ports_until_exhausted(pool_range: tuple[int, int]) -> None:
    low, high = pool_range
    pool = RtpPortPool("127.0.0.1", low, high)
    sockets = [pool.open() for _ in range(4)]
    try:
        ports = [sock.getsockname()[1] for sock in sockets]
        assert ports == [low, low + 2, low + 4, low + 6]
        assert all(sock.getsockname()[0] == "127.0.0.1" for sock in sockets)
        assert all(not sock.getblocking() for sock in sockets)
        assert all(sock.type == socket.SOCK_DGRAM for sock in sockets)
        assert pool.in_use == 4
        with pytest.raises(RuntimeError) as info:
            pool.open()
        assert str(info.value) == f"no free RTP port in {low}-{high}"
    finally:
        for sock in sockets:
            pool.release(sock)
    assert pool.in_use == 0
    assert all(sock.fileno() == -1 for sock in sockets)


def test_pool_reuses_released_ports_last(pool_range: tuple[int, int]) -> None:
    low, high = pool_range
    pool = RtpPortPool("127.0.0.1", low, high)
    first = pool.open()
    pool.release(first)
    reopened = [pool.open() for _ in range(4)]
    assert [sock.getsockname()[1] for sock in reopened] == [low + 2, low + 4, low + 6, low]
    for sock in reopened:
        pool.release(sock)


def test_pool_skips_ports_held_elsewhere(pool_range: tuple[int, int]) -> None:
    low, high = pool_range
    pool = RtpPortPool("127.0.0.1", low, high)
    foreign = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    foreign.bind(("127.0.0.1", low + 2))
    try:
        sockets = [pool.open() for _ in range(3)]
        assert [sock.getsockname()[1] for sock in sockets] == [low, low + 4, low + 6]
        with pytest.raises(RuntimeError, match=r"^no free RTP port in"):
            pool.open()
    finally:
        foreign.close()
    retried = pool.open()  # the busy port was kept and is tried again
    assert retried.getsockname()[1] == low + 2
    for sock in [*sockets, retried]:
        pool.release(sock)


def test_pool_release_rejects_unknown_sockets(
    pool_range: tuple[int, int], udp: Callable[[], socket.socket]
) -> None:
    pool = RtpPortPool("127.0.0.1", *pool_range)
    with pytest.raises(ValueError, match=r"^socket is not open in this RTP port pool$"):
        pool.release(udp())
    sock = pool.open()
    pool.release(sock)
    with pytest.raises(ValueError, match=r"^socket is not open in this RTP port pool$"):
        pool.release(sock)


def test_pool_is_safe_across_threads() -> None:
    low, high = free_port_range(64)
    pool = RtpPortPool("127.0.0.1", low, high)

    held: list[socket.socket] = []

    def churn(_: int) -> list[int]:
        seen = []
        for _ in range(20):
            sock = pool.open()
            seen.append(sock.getsockname()[1])
            pool.release(sock)
        sock = pool.open()
        held.append(sock)
        seen.append(sock.getsockname()[1])
        return seen

    with ThreadPoolExecutor(max_workers=8) as executor:
        results = list(executor.map(churn, range(8)))
    assert pool.in_use == 8
    assert all(low <= port <= high and port % 2 == 0 for seen in results for port in seen)
    assert len({seen[-1] for seen in results}) == 8  # the sockets still held are distinct
    for sock in held:
        pool.release(sock)


async def test_pool_serves_many_concurrent_calls() -> None:
    low, high = free_port_range(40)
    pool = RtpPortPool("127.0.0.1", low, high)
    held: set[int] = set()

    async def call(delay: float) -> None:
        sock = pool.open()
        port = sock.getsockname()[1]
        assert port not in held
        held.add(port)
        await asyncio.sleep(delay)
        held.remove(port)
        pool.release(sock)

    chooser = random.Random(7)
    for _ in range(3):  # 20 calls at once fill the 20 ports; each round reuses them
        await asyncio.gather(*(call(chooser.uniform(0, 0.02)) for _ in range(20)))
    assert pool.in_use == 0


def test_pool_ipv6() -> None:
    low, high = free_port_range(4)
    pool = RtpPortPool("::1", low, high)
    try:
        sock = pool.open()
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")
    assert sock.family == socket.AF_INET6
    assert sock.getsockname()[:2] == ("::1", low)
    pool.release(sock)


@pytest.mark.parametrize(
    ("host", "low", "high", "message"),
    [
        ("localhost", 10000, 10010, "RTP host 'localhost' is not an IP address"),
        ("127.0.0.1", 0, 10, "RTP port range 0-10 is not within 1-65535"),
        ("127.0.0.1", 10, 65536, "RTP port range 10-65536 is not within 1-65535"),
        ("127.0.0.1", 10010, 10000, "RTP port range 10010-10000 is not within 1-65535"),
        ("127.0.0.1", 10001, 10001, "RTP port range 10001-10001 has no even port"),
    ],
)
def test_pool_rejects_bad_configuration(host: str, low: int, high: int, message: str) -> None:
    with pytest.raises(ValueError) as info:
        RtpPortPool(host, low, high)
    assert str(info.value) == message


def test_pool_raises_other_bind_errors(pool_range: tuple[int, int]) -> None:
    pool = RtpPortPool("192.0.2.1", *pool_range)  # TEST-NET-1: not an address of this host
    with pytest.raises(OSError) as info:
        pool.open()
    assert info.value.errno == errno.EADDRNOTAVAIL
    assert pool.in_use == 0


def test_streams_past_a_full_burst_go_between_the_phases() -> None:
    """4 phases of 32 streams each are full: the next stream takes a 1 ms slot between them."""
    from voxcall.dialers.sip.media import BURST

    pacer = RtpPacer(ptime=0.020, phases=4)
    phase_slots = [0, 5, 10, 15]  # 20 slots of 1 ms; a phase every 5
    chosen = []
    for _ in range(4 * BURST):
        slot = pacer._choose_slot(soonest=0)
        pacer._slots[slot][object()] = None  # type: ignore[index]
        chosen.append(slot)
    assert sorted(set(chosen)) == phase_slots
    assert all(chosen.count(s) == BURST for s in phase_slots)
    extra = pacer._choose_slot(soonest=0)
    assert extra not in phase_slots
    assert 0 <= extra < 20


Redirect = Callable[[asyncio.Future[PlaybackReport], tuple[str, int] | None], Awaitable[None]]


@pytest.fixture(params=["on the loop", "from another thread"])
def redirect(request: pytest.FixtureRequest, paced: RtpPacer) -> Redirect:
    """`paced.redirect`, called on the caller's loop or from another thread."""

    async def redirect(
        playback: asyncio.Future[PlaybackReport], remote: tuple[str, int] | None
    ) -> None:
        if request.param == "on the loop":
            paced.redirect(playback, remote)
        else:
            await asyncio.to_thread(paced.redirect, playback, remote)

    return redirect


def check_redirected(
    first: list[RtpPacket], second: list[RtpPacket], payload: bytes, report: PlaybackReport
) -> None:
    """A stream moved once: both parts make one unbroken stream (one marker, sequence and
    timestamp running on)."""
    assert first and second
    check_packets(first + second, payload, 0)
    assert report == PlaybackReport(len(first) + len(second), 0, report.duration, 0)


def check_held(packets: list[RtpPacket], payload: bytes, report: PlaybackReport) -> None:
    """A stream held once and resumed: what fell due on hold was dropped, the rest sent."""
    assert report.packets_sent == len(packets)
    assert report.packets_skipped == 0
    assert report.packets_sent + report.packets_held == len(payload) // 160
    first = packets[0]
    assert [p.sequence_number for p in packets] == [
        (first.sequence_number + i) % 65536 for i in range(len(packets))
    ]
    # Timestamps jump over the held audio, once; the packet after it starts a talkspurt.
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    gap = next(i for i, step in enumerate(steps) if step != 160)
    assert steps[gap] == 160 * (report.packets_held + 1)
    assert steps[:gap] + steps[gap + 1 :] == [160] * (len(steps) - 1)
    assert [p.marker for p in packets] == [i in (0, gap + 1) for i in range(len(packets))]
    for packet in packets:
        index = (packet.timestamp - first.timestamp) % 2**32 // 160
        assert packet.payload == payload[index * 160 : (index + 1) * 160]


async def test_redirect_moves_the_rest_of_the_stream(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    redirect: Redirect,
    udp: Callable[[], socket.socket],
) -> None:
    sock = capturing()
    there, elsewhere = udp().getsockname(), udp().getsockname()
    payload = pcm_to_ulaw(tone(1.0))  # 50 packets
    future = paced.play(sock, there, payload, 0)
    clock.advance(0.31)  # packets 0 to 15
    await redirect(future, elsewhere)
    report = run_out(clock, future)
    first = [sent.packet for sent in sock.sent if sent.to == there]
    second = [sent.packet for sent in sock.sent if sent.to == elsewhere]
    assert (len(first), len(second)) == (16, 34)
    check_redirected(first, second, payload, report)


async def test_hold_drops_what_falls_due_and_resume_runs_on(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
    redirect: Redirect,
) -> None:
    sock = capturing()
    payload = pcm_to_ulaw(tone(1.0))  # 50 packets
    future = paced.play(sock, sink, payload, 0)
    clock.advance(0.21)  # packets 0 to 10
    await redirect(future, None)
    clock.advance(0.3)  # packets 11 to 25 fall due on hold
    assert len(sock.sent) == 11  # nothing sent on hold
    await redirect(future, sink)
    report = run_out(clock, future)
    assert report.packets_held == 15
    # The clock ran through the hold: the voice ended when it would have.
    assert report.duration == pytest.approx(50 * PTIME)
    check_held(sock.packets, payload, report)


async def test_a_stream_held_to_its_end_ends_on_time(
    paced: RtpPacer,
    clock: FakeClock,
    capturing: Capturing,
    sink: tuple[str, int],
) -> None:
    sock = capturing()
    future = paced.play(sock, sink, pcm_to_ulaw(tone(0.4)), 0)
    paced.redirect(future, None)  # before its first packet is due
    report = run_out(clock, future)
    assert sock.sent == []
    assert report == PlaybackReport(0, 0, pytest.approx(20 * PTIME), 20)
    assert paced.active_streams == 0


async def test_redirect_checks_its_arguments(
    pacer: RtpPacer, receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    _, address = receiver
    future = pacer.play(udp(), address, b"\xff" * 160, 0)
    with pytest.raises(ValueError) as info:
        pacer.redirect(future, ("localhost", 4000))
    assert str(info.value) == "RTP destination 'localhost' is not an IP address"
    assert await ended(future) == PlaybackReport(1, 0, (await future).duration)
    pacer.redirect(future, address)  # it has ended: nothing to do
    stranger: asyncio.Future[PlaybackReport] = asyncio.get_running_loop().create_future()
    with pytest.raises(ValueError, match=r"^not a stream of this RtpPacer$"):
        pacer.redirect(stranger, address)


# The pacer's thread


class RecordingSocket(socket.socket):
    """A non-blocking UDP socket on 127.0.0.1 that records the thread and time of each send,
    and how many sends are in progress; `slow` makes every send take that long."""

    def __init__(self, slow: float = 0.0) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)
        self.bind(("127.0.0.1", 0))
        self.setblocking(False)
        self.slow = slow
        self.senders: set[int] = set()
        self.sent_at: list[float] = []
        self.in_send = 0
        self.sending = threading.Event()

    def sendto(self, data: Any, address: Any) -> int:  # type: ignore[override]
        self.in_send += 1
        self.sending.set()
        try:
            self.senders.add(threading.get_ident())
            self.sent_at.append(time.monotonic())
            time.sleep(self.slow)
            return super().sendto(data, address)
        finally:
            self.in_send -= 1


@pytest.fixture
def recording() -> Iterator[Callable[..., RecordingSocket]]:
    opened: list[RecordingSocket] = []

    def make(slow: float = 0.0) -> RecordingSocket:
        opened.append(RecordingSocket(slow))
        return opened[-1]

    yield make
    for sock in opened:
        sock.close()


async def test_streams_are_sent_from_the_pacer_thread_and_resolve_on_the_callers_loop(
    pacer: RtpPacer,
    receiver: tuple[Receiver, tuple[str, int]],
    recording: Callable[..., RecordingSocket],
) -> None:
    protocol, address = receiver
    loop = asyncio.get_running_loop()
    resolved_in: list[tuple[int, asyncio.AbstractEventLoop]] = []
    sock = recording()
    payload = pcm_to_ulaw(tone(0.2))
    future = pacer.play(sock, address, payload, 0)
    future.add_done_callback(
        lambda _: resolved_in.append((threading.get_ident(), asyncio.get_running_loop()))
    )
    report = await ended(future)
    await settle()
    check_stream(protocol.arrivals, payload, 0)
    assert report.packets_sent == 10
    assert resolved_in == [(threading.get_ident(), loop)]
    (pacer_thread,) = pacer_threads()
    assert sock.senders == {pacer_thread.ident}


async def test_a_stalled_caller_loop_does_not_delay_the_stream(
    pacer: RtpPacer,
    receiver: tuple[Receiver, tuple[str, int]],
    recording: Callable[..., RecordingSocket],
) -> None:
    _, address = receiver
    sock = recording()
    future = pacer.play(sock, address, pcm_to_ulaw(tone(0.6)), 0)  # 30 packets
    await asyncio.sleep(0.1)
    # Block the caller's loop, as call set-up or a slow API request would: 12 packets fall
    # due meanwhile, and the pacer's thread sends them on time.
    asyncio.get_running_loop().call_soon(time.sleep, 0.25)
    report = await ended(future)
    assert (report.packets_sent, report.packets_skipped) == (30, 0)
    assert max(np.diff(sock.sent_at)) < 0.15  # generous: a stalled pacer would show 0.25


async def test_stop_waits_for_a_send_in_progress_and_nothing_is_sent_after(
    pacer: RtpPacer,
    receiver: tuple[Receiver, tuple[str, int]],
    recording: Callable[..., RecordingSocket],
) -> None:
    _, address = receiver
    sock = recording(slow=0.05)
    future = pacer.play(sock, address, pcm_to_ulaw(tone(1.0)), 0)
    assert await asyncio.to_thread(sock.sending.wait, 10)
    pacer.stop(future)
    # The pacer's thread was inside sendto: stop returned only once it had left it, so the
    # caller may now close the socket (whose number the OS could give to another).
    assert sock.in_send == 0
    sends = len(sock.sent_at)
    assert future.cancelled()
    assert pacer.active_streams == 0
    await asyncio.sleep(0.1)
    assert len(sock.sent_at) == sends


async def test_close_from_another_thread_cancels_the_streams_and_ends_the_thread(
    receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    protocol, address = receiver
    before = pacer_threads()
    pacer = RtpPacer()
    assert pacer_threads() == before  # no thread until something plays
    futures = [pacer.play(udp(), address, pcm_to_ulaw(tone(1.0)), 0) for _ in range(3)]
    await asyncio.sleep(0.05)
    await asyncio.to_thread(pacer.close)
    assert pacer_threads() == before
    await asyncio.sleep(0)  # the cancellations were handed to this loop
    assert all(future.cancelled() for future in futures)
    await settle()
    received = len(protocol.arrivals)
    await asyncio.sleep(0.06)
    assert len(protocol.arrivals) == received
    pacer.close()  # a second close has nothing left to do
