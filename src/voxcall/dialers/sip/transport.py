"""SIP transports (RFC 3261 §18): one UDP socket per dialer, or, over TCP, one connection
to the trunk plus a listener for the connections the trunk opens to us.

A transport moves bytes; it parses nothing it does not have to. Datagrams go up to the
`TransportUser` as bytes (its `received` method is the one place that parses and drops
malformed input); TCP must frame the stream, so it hands up parsed messages, and a stream
that turns out malformed is closed there. Errors the network reports (ICMP unreachable, a
lost connection) go up as `transport_error`.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Any, Protocol, cast

from voxcall.dialers.sip.message import MAX_MESSAGE_SIZE, SipRequest, SipResponse, StreamFramer
from voxcall.dialers.sip.timers import Timer

log = logging.getLogger("voxcall.sip")

Address = tuple[str, int]

# Linux: with IP_RECVERR an unconnected UDP socket queues ICMP errors, each with the
# destination of the datagram that caused it (`socket` does not export these names).
IP_RECVERR = 11
SO_EE_ORIGIN_ICMP = 2
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_ICMP_CAUSES = {
    errno.ECONNREFUSED: "ICMP port unreachable",
    errno.EHOSTUNREACH: "ICMP host unreachable",
    errno.ENETUNREACH: "ICMP network unreachable",
}


class TransportUser(Protocol):
    """What sits above a transport: the user agent core."""

    def received(self, data: bytes | SipRequest | SipResponse, source: Address) -> None: ...

    def transport_error(self, destination: Address | None, cause: str) -> None:
        """`destination` None: every destination failed (a stream connection was lost)."""


class Transport(Protocol):
    name: str  # "UDP" or "TCP", as written in Via
    reliable: bool

    @property
    def local_address(self) -> Address: ...

    async def ensure_open(self) -> None: ...

    def send(self, data: bytes, destination: Address) -> None: ...

    def close(self) -> None: ...


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int) -> str:
    """The first IPv4 address of `host` (an IP literal is returned as it is)."""
    if _is_ip(host):
        return host
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
    if not infos:
        raise OSError(f"no IPv4 address for {host}")
    return str(infos[0][4][0])


def icmp_cause(ancillary: list[tuple[int, int, bytes]]) -> str | None:
    """The cause text of one queued socket error (from recvmsg(MSG_ERRQUEUE) ancillary data)."""
    for level, kind, data in ancillary:
        if level == socket.SOL_IP and kind == IP_RECVERR and len(data) >= _EXTENDED_ERR.size:
            error, origin, _type, _code, _pad, _info, _data = _EXTENDED_ERR.unpack_from(data)
            if origin == SO_EE_ORIGIN_ICMP:
                return _ICMP_CAUSES.get(error, f"ICMP error: {errno.errorcode.get(error, error)}")
            return f"socket error: {errno.errorcode.get(error, error)}"
    return None


def _unreachable(destination: Address) -> str | None:
    """Why our IPv4 socket cannot send to `destination` (an IP literal), or None. Checked
    before the loop sees it, which the loops do not agree on: uvloop raises ValueError for an
    IPv6 host and sends to port 70000 as 4464; asyncio closes the whole socket on the port."""
    host, port = destination
    if ipaddress.ip_address(host).version != 4:
        return f"{host} is not an IPv4 address"
    if not 0 < port < 65536:
        return f"port {port} is not in 1-65535"
    return None


class UdpTransport(asyncio.DatagramProtocol):
    """One UDP socket, read and written through the loop's datagram endpoint.

    ICMP errors need IP_RECVERR: without it Linux drops them for an unconnected socket; with
    it each one is queued with the destination of the datagram that caused it, and flags the
    socket (POLLERR; the next read or send fails). We do not poll the socket ourselves: on
    POLLERR uvloop stops polling a descriptor given to `add_reader` for good (libuv's uv_poll
    reports it as a fatal error), so one unreachable peer made the dialer deaf. The datagram
    endpoints of both loops read on through POLLERR and report the failed read or send to
    `error_received`, which drains the error queue: that yields each error's destination
    and clears the flag. It must: while an error stays queued, POLLERR stays up, and plain
    asyncio's loop spun at 100 % CPU while uvloop crashed (a segfault).
    """

    name = "UDP"
    reliable = False

    def __init__(self, user: TransportUser, local_ip: str, port: int = 0) -> None:
        self._user = user
        self._local_ip = local_ip
        self._port = port
        self._sock: socket.socket | None = None  # the endpoint's, kept for its error queue
        self._endpoint: asyncio.DatagramTransport | None = None
        self._opening: asyncio.Lock | None = None
        self._sending: tuple[bytes, Address] | None = None  # the sendto under way
        self._resolved: dict[str, str] = {}
        self._lookups: set[asyncio.Task[None]] = set()

    @property
    def local_address(self) -> Address:
        if self._sock is None:
            raise RuntimeError("UDP transport is not open")
        host, port = self._sock.getsockname()[:2]
        return host, port

    async def ensure_open(self) -> None:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._endpoint is not None:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
                sock.bind((self._local_ip, self._port))
                loop = asyncio.get_running_loop()
                # Our own socket object: the one get_extra_info gives cannot recvmsg.
                self._sock = sock
                self._endpoint, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
            except BaseException:
                self._sock = None
                sock.close()
                raise
            log.info("SIP over UDP on %s:%d", *self.local_address)

    def send(self, data: bytes, destination: Address) -> None:
        host, port = destination
        if not _is_ip(host):
            address = self._resolved.get(host)
            if address is None:
                self._resolve_then_send(data, destination)
                return
            host = address
        self._sendto(data, (host, port))

    def _sendto(self, data: bytes, destination: Address) -> None:
        if self._endpoint is None:
            self._user.transport_error(destination, "UDP transport is closed")
            return
        problem = _unreachable(destination)
        if problem is not None:
            self._user.transport_error(destination, f"send failed: {problem}")
            return
        # A send that fails calls error_received before sendto returns, on both loops; a
        # full send buffer is not a failure: the endpoint queues the datagram.
        self._sending = (data, destination)
        try:
            self._endpoint.sendto(data, destination)
        finally:
            self._sending = None

    def _resolve_then_send(self, data: bytes, destination: Address) -> None:
        # Rare: in-dialog targets are nearly always IP literals, the trunk is resolved at start.
        loop = asyncio.get_running_loop()
        self._lookups.add(task := loop.create_task(self._lookup_and_send(data, destination)))
        task.add_done_callback(self._lookups.discard)

    async def _lookup_and_send(self, data: bytes, destination: Address) -> None:
        host, port = destination
        try:
            address = await resolve(host, port)
        except OSError as exc:
            self._user.transport_error(destination, f"DNS lookup of {host} failed: {exc}")
            return
        self._resolved[host] = address
        self._sendto(data, (address, port))

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._user.received(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # A read or a send failed: because an ICMP error is queued, or the send on its own.
        sending, self._sending = self._sending, None
        if self._drain_errors():
            if sending is not None and self._endpoint is not None:
                # The kernel failed this send to report an earlier datagram's error: the
                # error is drained, so send it again (once: `sending` is cleared).
                self._endpoint.sendto(*sending)
        elif sending is not None:
            cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._user.transport_error(sending[1], f"send failed: {cause}")

    def _drain_errors(self) -> int:
        """Report every queued ICMP error to the user; how many there were."""
        if self._sock is None:
            return 0
        drained = 0
        while True:
            try:
                _data, ancillary, _flags, destination = self._sock.recvmsg(
                    1, 1024, socket.MSG_ERRQUEUE
                )
            except OSError:  # EAGAIN: the queue is empty
                return drained
            drained += 1
            cause = icmp_cause(ancillary)
            if cause is not None and destination:
                log.info("%s from %s:%d", cause, destination[0], destination[1])
                self._user.transport_error((destination[0], destination[1]), cause)

    def connection_lost(self, exc: Exception | None) -> None:
        endpoint = self._endpoint
        if endpoint is None or not endpoint.is_closing():
            return  # the end of an endpoint that close() let go
        # The loop gave up on the socket: fail what waits on it; the next ensure_open
        # (before each call) opens a new one.
        self._endpoint = self._sock = None
        log.warning("UDP socket lost: %s", exc or "closed")
        self._user.transport_error(None, "UDP socket lost")

    def close(self) -> None:
        for task in self._lookups:
            task.cancel()
        if self._endpoint is not None:
            endpoint, self._endpoint, self._sock = self._endpoint, None, None
            endpoint.close()


@dataclass(frozen=True, slots=True)
class TcpLimits:
    """What peers that connect to our listener can make us hold. Each accepted connection
    buffers at most one message (`max_message_size`), so their memory stays below
    `max_connections * max_message_size`; one nobody uses goes away after `idle_timeout`."""

    max_connections: int = 32
    # Closing one costs little: the trunk connects again when it has a request to send
    # (RFC 3261 §18.1.2).
    idle_timeout: float = 120.0
    max_message_size: int = MAX_MESSAGE_SIZE

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.idle_timeout <= 0 or self.max_message_size < 1:
            raise ValueError(f"TCP limits must be positive, got {self}")


class _Connection(asyncio.Protocol):
    """One TCP connection cut into SIP messages: ours to the trunk, or one a peer opened to
    our listener (`accepted`, closed after `idle_timeout` without traffic)."""

    def __init__(self, owner: TcpTransport, *, accepted: bool) -> None:
        self.accepted = accepted
        self.peer: Address = ("", 0)
        self._owner = owner
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer(owner.limits.max_message_size)
        self._idle: Timer | None = None

    @property
    def open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, but not always an asyncio.Transport subclass: uvloop's is not.
        self._transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = (host, port)
        if self.accepted:
            self._idle = Timer("TCP idle", asyncio.get_running_loop(), self._idle_expired)
            self._touch()
        if not self._owner._connection_made(self):
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self._touch()
        try:
            messages = self._framer.feed(data)
        except ValueError as exc:
            self._drop(exc)
            return
        for message in messages:
            self._owner.user.received(message, self.peer)
        if messages:
            # feed() hands out the messages before a fault and keeps the fault for its next
            # call: ask for it now, or garbage behind a good message would wait for more data.
            try:
                self._framer.feed(b"")
            except ValueError as exc:
                self._drop(exc)

    def _drop(self, exc: ValueError) -> None:
        # A stream cannot be resynchronised after garbage: drop the connection.
        log.warning("closing TCP connection with %s:%d: %s", *self.peer, exc)
        assert self._transport is not None
        self._transport.abort()

    def write(self, data: bytes) -> None:
        assert self._transport is not None
        self._touch()
        self._transport.write(data)

    def _touch(self) -> None:
        if self._idle is not None:
            self._idle.start(self._owner.limits.idle_timeout)

    def _idle_expired(self) -> None:
        log.info("closing idle TCP connection from %s:%d", *self.peer)
        self.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._transport = None
        self._owner._connection_lost(self, exc)


class TcpTransport:
    """Our TCP connection to the trunk, and a listener for connections the trunk opens to us.

    Our requests go over the connection we open to the trunk. Its in-dialog requests may come
    over that one or over a new connection to our Contact address (RFC 3261 §18.1.2, §18.2:
    many carriers do not reuse ours), so we listen on that address, and Contact and Via
    carry the listener's port, not our connection's ephemeral one. A response goes back over
    the connection its request came in on (§18.2.2).

    A lost trunk connection fails every pending transaction; the next `ensure_open` (called
    before each new call) connects again.
    """

    name = "TCP"
    reliable = True

    def __init__(
        self,
        user: TransportUser,
        local_ip: str,
        remote: Address,
        port: int = 0,
        limits: TcpLimits | None = None,
    ) -> None:
        self.user = user
        self.limits = limits or TcpLimits()
        self._local_ip = local_ip
        self._port = port
        self._remote = remote
        self._server: asyncio.Server | None = None
        self._trunk: _Connection | None = None
        self._accepted: dict[Address, _Connection] = {}
        self._opening: asyncio.Lock | None = None

    @property
    def local_address(self) -> Address:
        """The listener's address: what Contact and Via advertise."""
        if self._server is None:
            raise RuntimeError("TCP transport is not open")
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def ensure_open(self) -> None:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            loop = asyncio.get_running_loop()
            started = self._server is None
            if self._server is None:
                self._server = await loop.create_server(
                    lambda: _Connection(self, accepted=True),
                    self._local_ip,
                    self._port,
                    family=socket.AF_INET,
                )
            if self._trunk is not None and self._trunk.open:
                return
            try:
                await loop.create_connection(
                    lambda: _Connection(self, accepted=False),
                    *self._remote,
                    local_addr=(self._local_ip, 0),
                )
            except OSError:
                if started:  # nobody will close a transport that never opened
                    self._stop_listening()
                raise
            log.info("SIP over TCP on %s:%d, trunk %s:%d", *self.local_address, *self._remote)

    def _connection_made(self, connection: _Connection) -> bool:
        """Keep a new connection; False to refuse it (the cap on accepted ones)."""
        if not connection.accepted:
            self._trunk = connection
            return True
        if self._server is None or len(self._accepted) >= self.limits.max_connections:
            log.warning("refused TCP connection from %s:%d: too many", *connection.peer)
            return False
        log.info("accepted TCP connection from %s:%d", *connection.peer)
        self._accepted[connection.peer] = connection
        return True

    def _connection_lost(self, connection: _Connection, exc: Exception | None) -> None:
        if connection is self._trunk:
            self._trunk = None
            log.info("TCP connection to %s:%d lost: %s", *self._remote, exc or "closed")
            self.user.transport_error(None, "TCP connection lost")
        elif self._accepted.get(connection.peer) is connection:
            del self._accepted[connection.peer]
            log.info("TCP connection from %s:%d closed: %s", *connection.peer, exc or "closed")
            # Whatever we sent on it and is still unanswered is lost with it.
            self.user.transport_error(connection.peer, "TCP connection lost")

    def send(self, data: bytes, destination: Address) -> None:
        # A response goes back on the connection its request came in on (its source address
        # is the connection's peer). Anything else goes to the trunk, and so does a response
        # whose connection has gone: the trunk matches it by its Via branch.
        connection = self._accepted.get(destination) or self._trunk
        if connection is None or not connection.open:
            self.user.transport_error(destination, "TCP connection is closed")
            return
        connection.write(data)

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def close(self) -> None:
        self._stop_listening()
        for connection in list(self._accepted.values()):
            connection.close()
        if self._trunk is not None:
            self._trunk.close()
