"""Reading many sockets' datagrams into one buffer, over real UDP on loopback."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable

import numpy as np

from tests.dialers.sip.test_media import udp
from voxcall.dialers.sip.datagrams import (
    READS_PER_SOCKET,
    ROW,
    ROWS_PER_SOCKET,
    SLOT,
    DatagramReader,
    Datagrams,
)

__all__ = ["udp"]  # a fixture, shared with test_media


def settle(sockets: list[socket.socket], expected: list[int]) -> None:
    """Wait until loopback has queued what was sent (it is at once, nearly always)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            for sock, count in zip(sockets, expected, strict=True):
                if count:
                    sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        return
        time.sleep(0.01)


def test_a_read_holds_each_sockets_datagrams_in_order(
    udp: Callable[[], socket.socket],
) -> None:
    rng = random.Random(7)
    sender, reader = udp(), DatagramReader()
    sockets = [udp() for _ in range(6)]
    sent = [
        [
            rng.randbytes(rng.choice((0, 1, 12, 172, ROW, ROW + 1, SLOT)))
            for _ in range(rng.randrange(0, 9))
        ]
        for _ in sockets
    ]
    for sock, datagrams in zip(sockets, sent, strict=True):
        for data in datagrams:
            sender.sendto(data, sock.getsockname())
    settle(sockets, [len(d) for d in sent])
    read = reader.read(sockets)
    assert read.counts == [len(datagrams) for datagrams in sent]
    expected = Datagrams.of(sent)
    assert [read.datagram(r) for r in range(len(read.rows))] == [d for s in sent for d in s]
    assert np.array_equal(read.lengths, expected.lengths)
    assert not read.cut.any()
    # Nothing more is waiting: the next read is empty.
    again = reader.read(sockets)
    assert list(again.counts) == [0] * len(sockets) and len(again.rows) == 0


def test_a_datagram_longer_than_a_row_is_flagged_cut(udp: Callable[[], socket.socket]) -> None:
    sender, sock, reader = udp(), udp(), DatagramReader()
    long = bytes(range(256)) * 5  # 1,280 bytes
    for data in (b"before", long, b"after"):
        sender.sendto(data, sock.getsockname())
    settle([sock], [3])
    read = reader.read([sock])
    assert read.counts == [3]
    assert read.cut.tolist() == [False, True, False]
    assert read.datagram(1) == long[:SLOT]
    assert [read.datagram(0), read.datagram(2)] == [b"before", b"after"]
    assert Datagrams.of([[b"before", long, b"after"]]).cut.tolist() == [False, True, False]


def test_a_flood_is_read_a_part_at_a_time_and_the_buffer_grows(
    udp: Callable[[], socket.socket],
) -> None:
    sender, reader = udp(), DatagramReader()
    quiet, flooded = udp(), udp()
    flooded.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    for n in range(READS_PER_SOCKET + 5):
        sender.sendto(n.to_bytes(2, "big"), flooded.getsockname())
    sender.sendto(b"quiet", quiet.getsockname())
    settle([flooded, quiet], [1, 1])
    time.sleep(0.05)
    first = reader.read([flooded, quiet])
    assert first.counts == [READS_PER_SOCKET, 1]
    assert first.datagram(READS_PER_SOCKET) == b"quiet"
    second = reader.read([flooded, quiet])
    assert second.counts == [5, 0]
    assert [int.from_bytes(second.datagram(r), "big") for r in range(5)] == list(
        range(READS_PER_SOCKET, READS_PER_SOCKET + 5)
    )
    many = [udp() for _ in range(40)]  # more sockets than the first buffer had rows for
    for sock in many:
        sender.sendto(b"x" * 172, sock.getsockname())
    settle(many, [1] * len(many))
    assert reader.read(many).counts == [1] * len(many)


def test_an_icmp_error_costs_nothing_but_itself(udp: Callable[[], socket.socket]) -> None:
    # A socket that sent to a closed port gets ECONNREFUSED on its next receive: the read
    # skips it this time and reads what waits behind the error the next time.
    sock, reader = udp(), DatagramReader()
    peer = udp()
    address = peer.getsockname()
    peer.close()
    sock.connect(address)
    sock.send(b"to nobody")  # answered by ICMP port unreachable
    time.sleep(0.05)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        peer.bind(address)
        peer.sendto(b"media", sock.getsockname())
        time.sleep(0.05)
        assert reader.read([sock]).counts == [0]
        read = reader.read([sock])
        assert read.counts == [1] and read.datagram(0) == b"media"
    finally:
        peer.close()


def test_when_floods_fill_the_buffer_the_sockets_after_them_wait(
    udp: Callable[[], socket.socket],
) -> None:
    sender, reader = udp(), DatagramReader()
    flooded = [udp() for _ in range(3)]
    for sock in flooded:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for n in range(READS_PER_SOCKET):
            sender.sendto(n.to_bytes(2, "big"), sock.getsockname())
    settle(flooded, [1, 1, 1])
    time.sleep(0.05)
    rows = 3 * ROWS_PER_SOCKET + READS_PER_SOCKET  # what the reader keeps for 3 sockets
    first = reader.read(flooded)
    assert first.counts == [READS_PER_SOCKET, rows - READS_PER_SOCKET, 0]
    second = reader.read(flooded)
    assert second.counts == [0, 2 * READS_PER_SOCKET - rows, READS_PER_SOCKET]
    # Nothing was lost, and each socket's datagrams came in order.
    assert [int.from_bytes(second.datagram(r), "big") for r in range(second.counts[1])] == list(
        range(rows - READS_PER_SOCKET, READS_PER_SOCKET)
    )
