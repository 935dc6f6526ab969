"""SIP transports (RFC 3261 §18): one UDP socket, or one TCP connection, per dialer.

A transport moves bytes; it parses nothing it does not have to. Datagrams go up to the
`TransportUser` as bytes (its `received` method is the one place that parses and drops
malformed input); TCP must frame the stream, so it hands up parsed messages. Errors the
network reports (ICMP unreachable, a lost connection) go up as `transport_error`.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
from typing import Protocol

from voxcall.dialers.sip.message import SipRequest, SipResponse, StreamFramer

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
_MAX_DATAGRAM = 65535
_READS_PER_WAKEUP = 64  # bound the work of one loop callback under a burst


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


class UdpTransport:
    """One non-blocking UDP socket read by a loop reader; no asyncio transport in between,
    so ICMP errors can be read from the socket's error queue with their destination."""

    name = "UDP"
    reliable = False

    def __init__(self, user: TransportUser, local_ip: str, port: int = 0) -> None:
        self._user = user
        self._local_ip = local_ip
        self._port = port
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resolved: dict[str, str] = {}
        self._lookups: set[asyncio.Task[None]] = set()

    @property
    def local_address(self) -> Address:
        if self._sock is None:
            raise RuntimeError("UDP transport is not open")
        host, port = self._sock.getsockname()[:2]
        return host, port

    async def ensure_open(self) -> None:
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
            sock.bind((self._local_ip, self._port))
        except OSError:
            sock.close()
            raise
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._read_ready)
        self._sock = sock
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
        if self._sock is None:
            self._user.transport_error(destination, "UDP transport is closed")
            return
        try:
            self._sock.sendto(data, destination)
        except BlockingIOError:
            # The send buffer is full: the transaction layer retransmits.
            log.warning("UDP send buffer full, dropped %d bytes to %s:%d", len(data), *destination)
        except ConnectionRefusedError:
            # An ICMP error for an earlier datagram surfaced on this send.
            self._drain_errors()
        except OSError as exc:
            self._user.transport_error(destination, f"send failed: {exc.strerror or exc}")

    def _resolve_then_send(self, data: bytes, destination: Address) -> None:
        # Rare: in-dialog targets are nearly always IP literals, the trunk is resolved at start.
        assert self._loop is not None
        self._lookups.add(task := self._loop.create_task(self._lookup_and_send(data, destination)))
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

    def _read_ready(self) -> None:
        assert self._sock is not None
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, source = self._sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError:
                # A pending ICMP error is reported as the result of a read.
                self._drain_errors()
                continue
            self._user.received(data, (source[0], source[1]))

    def _drain_errors(self) -> None:
        assert self._sock is not None
        while True:
            try:
                _data, ancillary, _flags, destination = self._sock.recvmsg(
                    1, 1024, socket.MSG_ERRQUEUE
                )
            except OSError:  # EAGAIN: the queue is empty
                return
            cause = icmp_cause(ancillary)
            if cause is not None and destination:
                log.info("%s from %s:%d", cause, destination[0], destination[1])
                self._user.transport_error((destination[0], destination[1]), cause)

    def close(self) -> None:
        for task in self._lookups:
            task.cancel()
        if self._sock is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


class TcpTransport(asyncio.Protocol):
    """One TCP connection to the trunk; every request and response goes over it.

    A lost connection fails every pending transaction; the next `ensure_open` (called
    before each new call) connects again.
    """

    name = "TCP"
    reliable = True

    def __init__(self, user: TransportUser, local_ip: str, remote: Address) -> None:
        self._user = user
        self._local_ip = local_ip
        self._remote = remote
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer()
        self._connecting: asyncio.Lock | None = None

    @property
    def local_address(self) -> Address:
        if self._transport is None:
            raise RuntimeError("TCP transport is not connected")
        host, port = self._transport.get_extra_info("sockname")[:2]
        return host, port

    async def ensure_open(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._transport is not None and not self._transport.is_closing():
                return
            self._framer = StreamFramer()
            loop = asyncio.get_running_loop()
            await loop.create_connection(
                lambda: self, *self._remote, local_addr=(self._local_ip, 0)
            )
            log.info("SIP over TCP %s:%d -> %s:%d", *self.local_address, *self._remote)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._framer.feed(data)
        except ValueError as exc:
            # A stream cannot be resynchronised after garbage: drop the connection.
            log.warning("closing TCP connection to %s:%d: %s", *self._remote, exc)
            assert self._transport is not None
            self._transport.abort()
            return
        for message in messages:
            self._user.received(message, self._remote)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        log.info("TCP connection to %s:%d lost: %s", *self._remote, exc or "closed")
        self._user.transport_error(None, "TCP connection lost")

    def send(self, data: bytes, destination: Address) -> None:
        if self._transport is None or self._transport.is_closing():
            self._user.transport_error(destination, "TCP connection is closed")
            return
        self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
