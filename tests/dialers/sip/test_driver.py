"""SipDialer against trunks that are not there: ICMP errors, silence (Timer B), bad input."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from tests.peers.dialing import dial_request, running_dialer
from tests.peers.net import HOST, free_ports, udp_socket
from tests.peers.voices import tone
from voxcall.dialers.base import AttemptResult
from voxcall.dialers.sip.config import SipTrunkConfig
from voxcall.dialers.sip.driver import SipDialer
from voxcall.dialers.sip.message import SipRequest, parse_message
from voxcall.dialers.sip.timers import TimerValues


@pytest.fixture
def silent_trunk() -> Iterator[socket.socket]:
    """A UDP socket that receives and never answers."""
    with udp_socket() as sock:
        yield sock


def drain(sock: socket.socket) -> list[bytes]:
    received = []
    while True:
        try:
            received.append(sock.recv(65536))
        except BlockingIOError:
            return received


async def test_icmp_port_unreachable_is_an_error_at_once() -> None:
    closed_port = free_ports(1)  # nothing listens there: the kernel answers ICMP
    async with running_dialer(f"sip:{HOST}:{closed_port}") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
        assert dialer.active_calls == 0
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, "ICMP port unreachable")
    assert outcome.ended_at - outcome.started_at < 0.5  # not Timer B's 32 s


async def test_timer_b_on_a_silent_trunk_is_an_error(silent_trunk: socket.socket) -> None:
    port = silent_trunk.getsockname()[1]
    timers = TimerValues(t1=0.01)  # Timer B = 64*T1 = 0.64 s
    async with running_dialer(f"sip:{HOST}:{port}", timers=timers) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, "Timer B timeout")
    assert 0.6 <= outcome.ended_at - outcome.started_at < 1.5
    invites = drain(silent_trunk)
    # Sent at 0, then Timer A: 10, 30, 70, 150, 310, 630 ms: seven copies of one request.
    assert 6 <= len(invites) <= 7
    assert len(set(invites)) == 1
    first = parse_message(invites[0])
    assert isinstance(first, SipRequest) and first.method == "INVITE"


async def test_ring_timeout_before_any_response_waits_for_timer_b(
    silent_trunk: socket.socket,
) -> None:
    # RFC 3261 §9.1: no CANCEL before a provisional response; the trunk never sent one.
    port = silent_trunk.getsockname()[1]
    async with running_dialer(f"sip:{HOST}:{port}", timers=TimerValues(t1=0.01)) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0), ring_timeout=0.2))
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, "Timer B timeout")
    methods = set()
    for data in drain(silent_trunk):
        message = parse_message(data)
        assert isinstance(message, SipRequest)
        methods.add(message.method)
    assert methods == {"INVITE"}


@pytest.mark.parametrize("number", ["0912 123", "0912;x=1", "<sip:evil>", "", "0" * 40])
async def test_a_number_that_cannot_be_a_request_uri_user_is_refused(
    silent_trunk: socket.socket, number: str
) -> None:
    port = silent_trunk.getsockname()[1]
    async with running_dialer(f"sip:{HOST}:{port}") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0), number=number))
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, "invalid number")
    assert drain(silent_trunk) == []


async def test_out_of_dialog_requests_are_answered(silent_trunk: socket.socket) -> None:
    port = silent_trunk.getsockname()[1]
    async with running_dialer(f"sip:{HOST}:{port}") as dialer:
        host, sip_port = dialer.local_address
        for method in ("OPTIONS", "BYE"):
            silent_trunk.sendto(stray_request(method, port), (host, sip_port))
        answers = await receive(silent_trunk, 2)
    assert [line.split(b"\r\n")[0] for line in answers] == [
        b"SIP/2.0 200 OK",
        b"SIP/2.0 481 Call/Transaction Does Not Exist",
    ]


def stray_request(method: str, port: int, call_id: str = "stray-1") -> bytes:
    return (
        f"{method} sip:voxcall@{HOST} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {HOST}:{port};branch=z9hG4bK{method.lower()}{call_id}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{HOST}>;tag=p1\r\n"
        f"To: <sip:voxcall@{HOST}>;tag=v1\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 7 {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def receive(sock: socket.socket, count: int) -> list[bytes]:
    loop = asyncio.get_running_loop()
    received: list[bytes] = []
    async with asyncio.timeout(2.0):
        while len(received) < count:
            received.append(await loop.sock_recv(sock, 65536))
    return received


async def test_close_abandons_calls_that_cannot_end(silent_trunk: socket.socket) -> None:
    port = silent_trunk.getsockname()[1]
    low = free_ports(8)
    config = SipTrunkConfig(trunk=f"sip:{HOST}:{port}", rtp_ports=(low, low + 7))
    dialer = SipDialer(config, close_grace=0.1)
    await dialer.start()
    attempt = asyncio.create_task(dialer.dial(dial_request(tone(1.0))))
    await asyncio.sleep(0.05)
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    # No provisional response yet, so no CANCEL may go out: the call waits (RFC 3261 §9.1).
    assert dialer.active_calls == 1
    await dialer.close()
    assert dialer.active_calls == 0


async def test_a_fixed_local_port_is_our_sip_port(silent_trunk: socket.socket) -> None:
    """--local-port: the UDP socket, or over TCP the listener that Contact names, binds it
    (an operator's firewall rule needs a fixed port)."""
    udp_port = free_ports(2)
    tcp_port = udp_port + 1
    trunk_port = silent_trunk.getsockname()[1]
    async with running_dialer(f"sip:{HOST}:{trunk_port}", local_port=udp_port) as dialer:
        assert dialer.local_address == (HOST, udp_port)
    accepted: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(accept, HOST, 0)
    tcp_trunk = server.sockets[0].getsockname()[1]
    try:
        async with running_dialer(
            f"sip:{HOST}:{tcp_trunk};transport=tcp", local_port=tcp_port
        ) as dialer:
            assert dialer.local_address == (HOST, tcp_port)
            _reader, writer = await asyncio.open_connection(HOST, tcp_port)  # it listens
            writer.close()
            await writer.wait_closed()
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_local_port_in_use_fails_the_start(silent_trunk: socket.socket) -> None:
    taken = silent_trunk.getsockname()[1]
    with pytest.raises(OSError):
        async with running_dialer(f"sip:{HOST}:{taken}", local_port=taken):
            pass
