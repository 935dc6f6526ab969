"""Reading the callees' RTP: `DatagramReader` (one recvmmsg per socket into one buffer)
against a `recv` per datagram into bytes objects, the way the receiver read before.

N sockets on 127.0.0.1 (500 by default) each get K queued datagrams of 172 bytes (a 20 ms
G.711 packet; K = 10, a 0.2 s tick of one call), then both ways read them all, in
alternation, `--rounds` times. Figures: this thread's CPU per datagram (min and median over
the rounds) and the ratio.

    python -m bench.receive [--sockets 500] [--datagrams 10] [--rounds 30]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable, Sequence

from bench.common import HOST, header, table
from voxcall.dialers.sip.datagrams import DatagramReader

PACKET = bytes(172)


def recv_each(sockets: Sequence[socket.socket]) -> int:
    """What the receiver did before: `recv` until the socket is empty, a bytes object each."""
    read = 0
    for sock in sockets:
        datagrams: list[bytes] = []
        while True:
            try:
                datagrams.append(sock.recv(2048))
            except BlockingIOError:
                break
        read += len(datagrams)
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--datagrams", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    sockets = []
    for _ in range(args.sockets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.setblocking(False)
        sockets.append(sock)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    addresses = [sock.getsockname() for sock in sockets]
    reader = DatagramReader()

    def by_reader(sockets: Sequence[socket.socket]) -> int:
        return len(reader.read(sockets).rows)

    ways: dict[str, Callable[[Sequence[socket.socket]], int]] = {
        "recv per datagram": recv_each,
        "DatagramReader (recvmmsg)": by_reader,
    }
    micros: dict[str, list[float]] = {name: [] for name in ways}
    expected = args.sockets * args.datagrams
    for _ in range(args.rounds):
        for name, read in ways.items():
            for address in addresses:
                for _ in range(args.datagrams):
                    sender.sendto(PACKET, address)
            time.sleep(0.02)  # loopback has queued them
            start = time.thread_time()
            got = read(sockets)
            spent = time.thread_time() - start
            if got != expected:
                raise SystemExit(f"{name} read {got} datagrams, expected {expected}")
            micros[name].append(spent / expected * 1e6)
    base = min(micros["recv per datagram"])
    print(header("Reading the callees' RTP", "python -m bench.receive"))
    print(
        f"{args.sockets} sockets x {args.datagrams} datagrams of {len(PACKET)} bytes, "
        f"{args.rounds} rounds, alternating; CPU of this thread per datagram.\n"
    )
    print(
        table(
            ["way", "min", "median", "min / recv per datagram"],
            [
                [
                    name,
                    f"{min(values):.2f} µs",
                    f"{statistics.median(values):.2f} µs",
                    f"{min(values) / base:.2f}x",
                ]
                for name, values in micros.items()
            ],
        )
    )


if __name__ == "__main__":
    main()
