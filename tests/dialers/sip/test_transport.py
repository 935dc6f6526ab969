"""The transports, with real sockets on loopback, on both event loops.

UDP: ICMP errors reach the user with their destination, and the socket is read on after
them. TCP: the dialer (a `UserAgent` over a `TcpTransport`) connects to a trunk played by
the test; the trunk, or a stranger, also connects to the dialer's Contact address, as RFC
3261 §18.1.2 allows, and sends requests there.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers.net import HOST, free_ports, udp_socket
from voxcall.dialers.sip.header_values import Via
from voxcall.dialers.sip.message import SipRequest, SipResponse, StreamFramer
from voxcall.dialers.sip.timers import TimerValues
from voxcall.dialers.sip.transaction import Address
from voxcall.dialers.sip.transport import TcpLimits, TcpTransport, TransportUser, UdpTransport
from voxcall.dialers.sip.ua import UserAgent

TIMEOUT = 2.0


@dataclass
class Recorder:
    """A TransportUser that keeps what comes up."""

    datagrams: asyncio.Queue[tuple[bytes | SipRequest | SipResponse, Address]] = field(
        default_factory=asyncio.Queue
    )
    errors: asyncio.Queue[tuple[Address | None, str]] = field(default_factory=asyncio.Queue)

    def received(self, data: bytes | SipRequest | SipResponse, source: Address) -> None:
        self.datagrams.put_nowait((data, source))

    def transport_error(self, destination: Address | None, cause: str) -> None:
        self.errors.put_nowait((destination, cause))


@pytest.fixture
async def udp() -> AsyncIterator[tuple[UdpTransport, Recorder]]:
    recorder = Recorder()
    transport = UdpTransport(recorder, HOST)
    await transport.ensure_open()
    yield transport, recorder
    transport.close()
    await asyncio.sleep(0)  # let the endpoint close its socket


@pytest.fixture
def peer() -> Iterator[socket.socket]:
    with udp_socket() as sock:
        yield sock


async def receive(sock: socket.socket) -> bytes:
    async with asyncio.timeout(TIMEOUT):
        return await asyncio.get_running_loop().sock_recv(sock, 65536)


async def test_udp_icmp_errors_come_up_and_the_socket_is_read_on(
    udp: tuple[UdpTransport, Recorder], peer: socket.socket
) -> None:
    # uvloop stopped reading a socket polled with add_reader at its first POLLERR.
    transport, recorder = udp
    closed = (HOST, free_ports(1))
    for round_ in range(3):
        transport.send(b"INVITE", closed)
        async with asyncio.timeout(TIMEOUT):
            assert await recorder.errors.get() == (closed, "ICMP port unreachable")
        peer.sendto(b"after %d" % round_, transport.local_address)
        async with asyncio.timeout(TIMEOUT):
            assert await recorder.datagrams.get() == (b"after %d" % round_, peer.getsockname())
    # The error queue is empty: nothing flags the socket, so nothing wakes the loop in vain
    # (left queued, it spun plain asyncio at 100 % CPU and crashed uvloop).
    assert transport._sock is not None
    poll = select.poll()
    poll.register(transport._sock.fileno(), select.POLLIN)
    assert poll.poll(0) == []


async def test_udp_an_icmp_error_reported_on_a_later_send_loses_nothing(
    udp: tuple[UdpTransport, Recorder], peer: socket.socket
) -> None:
    # On loopback the ICMP error is queued before sendto returns: the next send fails with
    # it (ECONNREFUSED) instead of going out, unless the transport sends it again.
    transport, recorder = udp
    closed = (HOST, free_ports(1))
    transport.send(b"to nobody", closed)
    transport.send(b"to the peer", peer.getsockname())
    assert await receive(peer) == b"to the peer"
    async with asyncio.timeout(TIMEOUT):
        assert await recorder.errors.get() == (closed, "ICMP port unreachable")
    assert recorder.errors.empty()


async def test_udp_a_send_that_fails_fails_its_destination(
    udp: tuple[UdpTransport, Recorder],
) -> None:
    transport, recorder = udp
    broadcast = ("255.255.255.255", 5060)  # EACCES: the socket may not broadcast
    transport.send(b"INVITE", broadcast)
    assert recorder.errors.get_nowait() == (broadcast, "send failed: Permission denied")


@pytest.mark.parametrize(
    ("destination", "cause"),
    [
        (("2001:db8::1", 5060), "send failed: 2001:db8::1 is not an IPv4 address"),
        (("127.0.0.1", 70000), "send failed: port 70000 is not in 1-65535"),
        (("127.0.0.1", 0), "send failed: port 0 is not in 1-65535"),
    ],
)
async def test_udp_a_destination_our_socket_cannot_reach_fails_alone(
    udp: tuple[UdpTransport, Recorder], peer: socket.socket, destination: Address, cause: str
) -> None:
    # The same on both loops, and the socket stays open for other destinations.
    transport, recorder = udp
    transport.send(b"ACK", destination)
    assert recorder.errors.get_nowait() == (destination, cause)
    transport.send(b"BYE", peer.getsockname())
    assert await receive(peer) == b"BYE"


async def test_udp_a_socket_the_loop_gives_up_on_fails_all_and_opens_again(
    udp: tuple[UdpTransport, Recorder], peer: socket.socket
) -> None:
    transport, recorder = udp
    assert transport._endpoint is not None
    transport._endpoint.abort()  # what a loop does on a fatal error
    async with asyncio.timeout(TIMEOUT):
        assert await recorder.errors.get() == (None, "UDP socket lost")
    await transport.ensure_open()  # as the next call does
    peer.sendto(b"again", transport.local_address)
    async with asyncio.timeout(TIMEOUT):
        assert await recorder.datagrams.get() == (b"again", peer.getsockname())


async def test_udp_send_after_close_fails_its_destination(
    udp: tuple[UdpTransport, Recorder],
) -> None:
    transport, recorder = udp
    transport.close()
    transport.send(b"BYE", (HOST, 9))
    assert recorder.errors.get_nowait() == ((HOST, 9), "UDP transport is closed")


@dataclass
class Trunk:
    """A TCP server standing in for the trunk: it keeps the connections the dialer opens."""

    server: asyncio.Server
    connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(
        default_factory=asyncio.Queue
    )

    @property
    def address(self) -> Address:
        host, port = self.server.sockets[0].getsockname()[:2]
        return host, port


@pytest.fixture
async def trunk() -> AsyncIterator[Trunk]:
    queue: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await queue.put((reader, writer))

    server = await asyncio.start_server(keep, HOST, 0)
    yield Trunk(server, queue)
    server.close()
    while not queue.empty():
        queue.get_nowait()[1].close()
    await server.wait_closed()


@dataclass
class Opened:
    uas: list[UserAgent] = field(default_factory=list)

    async def __call__(self, trunk: Trunk, limits: TcpLimits | None = None) -> UserAgent:
        def make(user: TransportUser) -> TcpTransport:
            return TcpTransport(user, HOST, trunk.address, limits=limits)

        ua = UserAgent(make, TimerValues())
        await ua.transport.ensure_open()
        self.uas.append(ua)
        return ua


@pytest.fixture
async def dialer() -> AsyncIterator[Opened]:
    opened = Opened()
    yield opened
    for ua in opened.uas:
        ua.close()
    await asyncio.sleep(0)  # let the closed connections report their loss


def options(port: int, call_id: str = "tcp-1", branch: str = "z9hG4bKopt1") -> bytes:
    return (
        f"OPTIONS sip:voxcall@{HOST} SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP {HOST}:{port};branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:trunk@{HOST}>;tag=t1\r\n"
        f"To: <sip:voxcall@{HOST}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def read_message(reader: asyncio.StreamReader) -> SipRequest | SipResponse:
    framer = StreamFramer()
    async with asyncio.timeout(TIMEOUT):
        while True:
            data = await reader.read(65536)
            assert data, "the connection closed before a whole message came"
            messages = framer.feed(data)
            if messages:
                (message,) = messages
                return message


async def closed_by_peer(reader: asyncio.StreamReader) -> bool:
    """Whether the other end closes the connection within TIMEOUT (nothing else arrives)."""
    try:
        async with asyncio.timeout(TIMEOUT):
            return await reader.read(65536) == b""
    except ConnectionResetError:  # abort() sends a RST
        return True
    except TimeoutError:
        return False


async def connect(ua: UserAgent) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*ua.transport.local_address)


async def test_contact_and_via_carry_the_listening_port(trunk: Trunk, dialer: Opened) -> None:
    ua = await dialer(trunk)
    _trunk_reader, writer = await trunk.connections.get()
    local = ua.local
    assert (local.host, local.port) == ua.transport.local_address
    assert local.contact("voxcall") == f"<sip:voxcall@{HOST}:{local.port};transport=tcp>"
    via = Via.parse(local.via())
    assert (via.transport, via.host, via.port) == ("TCP", HOST, local.port)
    # Our connection to the trunk comes from another (ephemeral) port: the Contact is the
    # listener's, and the listener accepts.
    assert writer.get_extra_info("peername")[1] != local.port
    _reader, client = await connect(ua)
    client.close()
    writer.close()


async def test_request_in_two_segments_is_answered_on_its_connection(
    trunk: Trunk, dialer: Opened
) -> None:
    ua = await dialer(trunk)
    trunk_reader, trunk_writer = await trunk.connections.get()
    reader, writer = await connect(ua)
    port = writer.get_extra_info("sockname")[1]
    request = options(port)
    writer.write(request[:40])  # the start line and part of the Via
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(request[40:])
    response = await read_message(reader)
    assert isinstance(response, SipResponse)
    assert (response.status_code, response.cseq) == (200, (1, "OPTIONS"))
    assert Via.parse(response.headers.get("Via") or "").params["branch"] == "z9hG4bKopt1"
    # Nothing went to the trunk's own connection.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await trunk_reader.read(1)
    # The same connection carries the next request too.
    writer.write(options(port, call_id="tcp-2", branch="z9hG4bKopt2"))
    second = await read_message(reader)
    assert isinstance(second, SipResponse) and second.call_id == "tcp-2"
    writer.close()
    trunk_writer.close()


async def test_the_trunk_connection_still_carries_requests(trunk: Trunk, dialer: Opened) -> None:
    ua = await dialer(trunk)
    reader, writer = await trunk.connections.get()
    writer.write(options(trunk.address[1]))
    response = await read_message(reader)
    assert isinstance(response, SipResponse) and response.status_code == 200
    assert ua.transport.local_address[1] != writer.get_extra_info("peername")[1]
    writer.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"HELLO WORLD\r\n\r\n",
        b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKx\r\n\r\n",  # no length
        b"X" * 2000,  # no end of headers within the limit
    ],
)
async def test_garbage_closes_that_connection_only(
    trunk: Trunk, dialer: Opened, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    ua = await dialer(trunk, TcpLimits(max_message_size=1024))
    trunk_reader, trunk_writer = await trunk.connections.get()
    reader, writer = await connect(ua)
    writer.write(garbage)
    assert await closed_by_peer(reader)
    assert "closing TCP connection with" in caplog.text
    writer.close()
    # The dialer goes on: a new connection is answered, and so is the trunk's own.
    reader, writer = await connect(ua)
    writer.write(options(writer.get_extra_info("sockname")[1]))
    response = await read_message(reader)
    assert isinstance(response, SipResponse) and response.status_code == 200
    trunk_writer.write(options(trunk.address[1], call_id="via-trunk"))
    response = await read_message(trunk_reader)
    assert isinstance(response, SipResponse) and response.call_id == "via-trunk"
    writer.close()
    trunk_writer.close()


async def test_garbage_behind_a_good_request_closes_after_answering_it(
    trunk: Trunk, dialer: Opened
) -> None:
    ua = await dialer(trunk)
    reader, writer = await connect(ua)
    writer.write(options(writer.get_extra_info("sockname")[1]) + b"NOT SIP\r\n\r\n")
    response = await read_message(reader)
    assert isinstance(response, SipResponse) and response.status_code == 200
    assert await closed_by_peer(reader)  # at once, not when more data comes
    writer.close()


async def test_accepted_connections_are_capped(trunk: Trunk, dialer: Opened) -> None:
    ua = await dialer(trunk, TcpLimits(max_connections=2))
    kept = [await connect(ua) for _ in range(2)]
    for number, (reader, writer) in enumerate(kept):
        port = writer.get_extra_info("sockname")[1]
        writer.write(options(port, call_id=f"kept-{number}", branch=f"z9hG4bKk{number}"))
        response = await read_message(reader)
        assert isinstance(response, SipResponse) and response.status_code == 200
    reader, writer = await connect(ua)  # the kernel accepts; the dialer drops it at once
    assert await closed_by_peer(reader)
    writer.close()
    # One of the two goes away: there is room for a new one.
    kept[0][1].close()
    await asyncio.sleep(0.05)
    reader, writer = await connect(ua)
    writer.write(options(writer.get_extra_info("sockname")[1], call_id="new"))
    response = await read_message(reader)
    assert isinstance(response, SipResponse) and response.call_id == "new"
    writer.close()
    kept[1][1].close()


async def test_idle_accepted_connections_are_closed(trunk: Trunk, dialer: Opened) -> None:
    ua = await dialer(trunk, TcpLimits(idle_timeout=0.3))
    reader, writer = await connect(ua)
    writer.write(options(writer.get_extra_info("sockname")[1]))
    await read_message(reader)
    loop = asyncio.get_running_loop()
    answered = loop.time()
    assert await closed_by_peer(reader)
    assert 0.25 <= loop.time() - answered < 1.0
    writer.close()


async def test_close_drops_accepted_connections_and_stops_listening(
    trunk: Trunk, dialer: Opened
) -> None:
    ua = await dialer(trunk)
    address = ua.transport.local_address
    reader, writer = await connect(ua)
    writer.write(options(writer.get_extra_info("sockname")[1]))
    await read_message(reader)
    ua.close()
    assert await closed_by_peer(reader)
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(*address)


async def test_a_trunk_that_refuses_leaves_no_listener(trunk: Trunk) -> None:
    address = trunk.address
    trunk.server.close()
    await trunk.server.wait_closed()
    ua = UserAgent(lambda user: TcpTransport(user, HOST, address), TimerValues())
    with pytest.raises(ConnectionRefusedError):
        await ua.transport.ensure_open()
    with pytest.raises(RuntimeError, match="not open"):
        _ = ua.transport.local_address
