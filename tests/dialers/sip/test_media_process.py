"""The pacer in a child process: the same streams as in-process, over real UDP on loopback."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.dialers.sip.test_media import (
    PTIME,
    Receiver,
    check_held,
    check_redirected,
    check_stream,
    ended,
    other_receiver,
    receiver,
    settle,
    tone,
    udp,
)
from voxcall.dialers.sip.g711 import pcm_to_ulaw
from voxcall.dialers.sip.media import PlaybackReport
from voxcall.dialers.sip.media_process import MediaProcess

__all__ = ["other_receiver", "receiver", "udp"]  # fixtures, shared with test_media


@pytest.fixture
async def media() -> AsyncIterator[MediaProcess]:
    media = MediaProcess()
    await media.start()
    yield media
    media.close()


async def test_stream_is_complete_and_resolves_on_the_callers_loop(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    protocol, address = receiver
    payload = pcm_to_ulaw(tone(0.5, extra_bytes=74))  # 25 packets + 37 bytes
    future = media.play(udp(), address, payload, 0)
    assert media.pid is not None and media.pid != os.getpid()
    assert future.get_loop() is asyncio.get_running_loop()
    report = await ended(future)
    await settle()
    check_stream(protocol.arrivals, payload, 0)
    assert (report.packets_sent, report.packets_skipped, report.packets_held) == (26, 0, 0)
    assert 26 * 0.020 * 0.85 < report.duration < 26 * 0.020 * 1.15
    assert media.active_streams == 0


async def test_a_stalled_caller_loop_does_not_delay_the_stream(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    _, address = receiver
    future = media.play(udp(), address, pcm_to_ulaw(tone(0.6)), 0)  # 30 packets
    await asyncio.sleep(0.1)
    # Block the caller's loop, as call set-up or a slow request would: on one loop the pacer
    # was 12 packets late and skipped them.
    asyncio.get_running_loop().call_soon(time.sleep, 0.25)
    report = await ended(future)
    assert (report.packets_sent, report.packets_skipped) == (30, 0)


async def test_redirect_checks_its_arguments(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    _, address = receiver
    future = media.play(udp(), address, b"\xff" * 160, 0)
    with pytest.raises(ValueError, match=r"^RTP destination 'localhost' is not an IP address$"):
        media.redirect(future, ("localhost", 4000))
    assert (await ended(future)).packets_sent == 1
    media.redirect(future, address)  # it has ended: nothing to do
    stranger: asyncio.Future[PlaybackReport] = asyncio.get_running_loop().create_future()
    with pytest.raises(ValueError, match=r"^not a stream of this RtpPacer$"):
        media.redirect(stranger, address)


async def test_stop_ends_the_stream_and_the_child_lets_go_of_the_port(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
) -> None:
    protocol, address = receiver
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    future = media.play(sock, address, pcm_to_ulaw(tone(2.0)), 0)
    await asyncio.sleep(0.2)
    media.stop(future)
    sock.close()  # the caller's own socket: closed at once, as Call does
    assert future.cancelled()
    assert media.active_streams == 0
    await settle()
    received = len(protocol.arrivals)
    assert 3 <= received < 100
    await asyncio.sleep(0.1)
    assert len(protocol.arrivals) == received
    # The child closed its duplicate: the port can be bound again.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", port))


async def test_a_send_error_ends_the_stream_with_it(
    media: MediaProcess, udp: Callable[[], socket.socket]
) -> None:
    dead = udp()
    dead_address = dead.getsockname()
    dead.close()
    refused = udp()
    refused.connect(dead_address)  # Linux reports ICMP errors to connected UDP sockets
    with pytest.raises(ConnectionRefusedError) as info:
        await ended(media.play(refused, dead_address, pcm_to_ulaw(tone(0.4)), 0))
    assert info.value.errno == errno.ECONNREFUSED


async def test_close_cancels_the_streams_and_ends_the_child(
    receiver: tuple[Receiver, tuple[str, int]], udp: Callable[[], socket.socket]
) -> None:
    protocol, address = receiver
    media = MediaProcess()
    await media.start()
    futures = [media.play(udp(), address, pcm_to_ulaw(tone(1.0)), 0) for _ in range(3)]
    await asyncio.sleep(0.1)
    media.close()
    assert all(future.cancelled() for future in futures)
    assert media._child is not None and media._child.returncode == 0  # exited, reaped
    await settle()
    received = len(protocol.arrivals)
    await asyncio.sleep(0.06)
    assert len(protocol.arrivals) == received
    with pytest.raises(RuntimeError, match=r"^RtpPacer is closed$"):
        media.play(udp(), address, b"\xff" * 160, 0)
    media.close()  # a second close has nothing left to do


async def test_a_dead_child_fails_its_streams(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    _, address = receiver
    future = media.play(udp(), address, pcm_to_ulaw(tone(2.0)), 0)
    await asyncio.sleep(0.1)
    assert media._child is not None
    media._child.kill()
    with pytest.raises(OSError, match=r"^RTP media process exited$"):
        await ended(future)
    with pytest.raises(RuntimeError, match=r"^RtpPacer is closed$"):
        media.play(udp(), address, b"\xff" * 160, 0)


async def test_play_checks_its_arguments_before_starting_anything(
    media: MediaProcess, udp: Callable[[], socket.socket]
) -> None:
    with pytest.raises(ValueError, match=r"^payload type 18 is not G.711"):
        media.play(udp(), ("127.0.0.1", 4000), b"\xff" * 160, 18)
    with pytest.raises(ValueError, match=r"^RTP destination port 0 is not in 1-65535$"):
        media.play(udp(), ("127.0.0.1", 0), b"\xff" * 160, 0)
    future = media.play(udp(), ("127.0.0.1", 4000), b"", 0)
    assert await future == PlaybackReport(0, 0, 0.0)


async def test_the_child_outlives_a_ctrl_c_to_the_process_group(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    # Ctrl-C in a terminal signals the whole group; the parent then lets live calls finish,
    # so the child must play on until the parent closes it.
    _, address = receiver
    future = media.play(udp(), address, pcm_to_ulaw(tone(0.6)), 0)
    assert media.pid is not None
    await asyncio.sleep(0.1)
    os.kill(media.pid, signal.SIGINT)
    os.kill(media.pid, signal.SIGTERM)
    report = await ended(future)
    assert report.packets_sent == 30


async def test_commands_wait_while_the_child_is_behind(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    # The control socket holds few unread messages (made fewer here): 30 plays to a stopped
    # child must wait in the parent, in order, and all play once it runs again.
    protocol, address = receiver
    assert media.pid is not None and media._channel is not None
    media._channel.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # the minimum
    os.kill(media.pid, signal.SIGSTOP)
    try:
        futures = [media.play(udp(), address, b"\xff" * 320, 0) for _ in range(30)]
        assert media._channel._backlog
    finally:
        os.kill(media.pid, signal.SIGCONT)
    reports = await ended(asyncio.gather(*futures))
    assert [report.packets_sent for report in reports] == [2] * 30
    await settle()
    assert len(protocol.arrivals) == 60


async def test_reports_wait_while_the_callers_loop_is_behind(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    # 400 one-packet streams all end while the caller's loop is blocked: the child must keep
    # the reports the socket cannot hold, not lose them (their calls would never end).
    _, address = receiver
    futures = [media.play(udp(), address, b"\xff" * 160, 0) for _ in range(400)]
    asyncio.get_running_loop().call_soon(time.sleep, 1.0)
    reports = await ended(asyncio.gather(*futures))
    assert [report.packets_sent for report in reports] == [1] * 400


# The child runs its pacer on the wall clock: these wait for it.


async def test_redirect_moves_the_rest_of_the_stream(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    other_receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    (first, address), (second, other_address) = receiver, other_receiver
    payload = pcm_to_ulaw(tone(1.0))  # 50 packets
    future = media.play(udp(), address, payload, 0)
    await asyncio.sleep(0.3)
    media.redirect(future, other_address)
    report = await ended(future)
    await settle()
    assert 5 <= len(first.arrivals) <= 45
    check_redirected(
        [a.packet for a in first.arrivals], [a.packet for a in second.arrivals], payload, report
    )


async def test_hold_drops_what_falls_due_and_resume_runs_on(
    media: MediaProcess,
    receiver: tuple[Receiver, tuple[str, int]],
    udp: Callable[[], socket.socket],
) -> None:
    protocol, address = receiver
    payload = pcm_to_ulaw(tone(1.0))  # 50 packets
    future = media.play(udp(), address, payload, 0)
    await asyncio.sleep(0.2)
    media.redirect(future, None)
    await settle()
    before_hold = len(protocol.arrivals)
    await asyncio.sleep(0.3)
    assert len(protocol.arrivals) == before_hold  # nothing sent on hold
    media.redirect(future, address)
    report = await ended(future)
    await settle()
    assert 12 <= report.packets_held <= 25, report  # about 0.33 s
    assert 50 * PTIME * 0.85 < report.duration < 50 * PTIME * 1.15
    check_held([a.packet for a in protocol.arrivals], payload, report)
