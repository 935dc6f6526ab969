"""RTP arrival times on loopback: capture with dumpcap, then per-stream gap statistics.

dumpcap (Wireshark's capture engine, what tshark runs) records the UDP packets to one port
with a 64-byte snapshot (headers only) into a classic pcap file. A stream is one (source
port, SSRC) pair: SIPp sends every call from one port, voxcall each from its own. The pacing
jitter of a packet is how far its gap to the previous packet of its stream is from the
packet time: |gap - 20 ms|.
"""

from __future__ import annotations

import re
import signal
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SNAPLEN = 64  # link + IPv4 + UDP + RTP headers fit
_LINK_HEADER = {0: 4, 1: 14, 101: 0, 113: 16, 276: 20}  # null, Ethernet, raw, SLL, SLL2
_DROPPED = re.compile(r"received/dropped on interface '[^']*': (\d+)/(\d+)")


class Capture:
    """dumpcap on `lo` for UDP to `port`; `stop` returns (received, dropped) as it reports."""

    def __init__(self, port: int, path: Path) -> None:
        self.path = path
        self._log = path.with_suffix(".log")
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                [
                    *("dumpcap", "-i", "lo", "-f", f"udp dst port {port}", "-s", str(SNAPLEN)),
                    *("-B", "256", "-P", "-w", str(path)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while b"File:" not in self._log.read_bytes():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._process.kill()
                raise RuntimeError(f"dumpcap did not start: {self._log.read_text()}")
            time.sleep(0.05)
        time.sleep(0.3)  # "File:" comes just before the capture loop runs

    def stop(self) -> tuple[int, int]:
        # The kernel hands packets to dumpcap in blocks, after a timeout when a block is not
        # full; whatever is still in the ring at SIGINT is lost. Let the last block go first.
        time.sleep(1.0)
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # dumpcap flushes and reports on SIGINT
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        found = _DROPPED.search(self._log.read_text())
        return (int(found[1]), int(found[2])) if found else (-1, -1)


@dataclass(frozen=True)
class StreamStats:
    streams: int
    packets: int
    per_stream_min: int
    per_stream_max: int
    missing: int  # packets whose audio is missing inside the streams (by RTP timestamp)
    whole: int  # streams with exactly the expected packets and none missing
    jitter_p50_ms: float
    jitter_p99_ms: float
    jitter_p999_ms: float
    jitter_max_ms: float


def read_pcap(path: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
    """Arrival times (s) and the first SNAPLEN bytes of every packet (zero padded)."""
    data = path.read_bytes()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file (shorter than its header)")
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, divisor = "<", 1e6
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, divisor = "<", 1e9
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, divisor = ">", 1e6
    elif magic == b"\xa1\xb2\x3c\x4d":
        endian, divisor = ">", 1e9
    else:
        raise ValueError(f"{path}: not a classic pcap file (magic {magic.hex()})")
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0xFFFF
    if linktype not in _LINK_HEADER:
        raise ValueError(f"{path}: link type {linktype} is not one this reader knows")
    record = struct.Struct(endian + "IIII")
    times: list[float] = []
    frames: list[bytes] = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, caplen, _ = record.unpack_from(data, offset)
        offset += 16
        times.append(seconds + fraction / divisor)
        frames.append(data[offset : offset + min(caplen, SNAPLEN)].ljust(SNAPLEN, b"\0"))
        offset += caplen
    packets = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(-1, SNAPLEN)
    skip = _LINK_HEADER[linktype]
    return np.array(times, dtype=np.float64), packets[:, skip:]


def stream_stats(
    path: Path,
    *,
    expected: int,
    ptime: float = 0.020,
    started_before: float | None = None,
    window: tuple[float, float] | None = None,
) -> StreamStats:
    """Per-stream packet counts and gap jitter; `expected`: packets in a whole stream.

    `started_before` (epoch seconds): only the streams whose first packet arrived before;
    `window`: only the gaps that end inside it (the counts still cover whole streams).
    """
    times, ip = read_pcap(path)
    ihl = (ip[:, 0] & 0x0F).astype(np.int64) * 4
    rows = np.arange(len(ip))

    def field(offset: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
        value = np.zeros(len(ip), dtype=np.int64)
        for i in range(size):
            value = (value << 8) | ip[rows, offset + i].astype(np.int64)
        return value

    udp = ihl
    rtp = ihl + 8
    source_port = field(udp, 2)
    timestamp = field(rtp + 4, 4)
    ssrc = field(rtp + 8, 4)
    key = (source_port << 32) | ssrc
    order = np.lexsort((times, key))
    key, times, timestamp = key[order], times[order], timestamp[order]
    if started_before is not None:
        _, first = np.unique(key, return_index=True)
        early = np.repeat(times[first] < started_before, np.diff(np.append(first, len(key))))
        key, times, timestamp = key[early], times[early], timestamp[early]
    if len(times) == 0:
        return StreamStats(0, 0, 0, 0, 0, 0, *(4 * [float("nan")]))
    same = key[1:] == key[:-1]
    in_window = same
    if window is not None:
        in_window = same & (times[1:] >= window[0]) & (times[1:] < window[1])
    gaps = np.diff(times)[in_window]
    jitter_ms = np.abs(gaps - ptime) * 1000
    # Timestamps, not sequence numbers: voxcall numbers only what it sent, so a packet it
    # skipped (a late loop, a full buffer) shows only as a jump in the media clock.
    samples = round(ptime * 8000)
    steps = (np.diff(timestamp)[same] % 2**32) // samples - 1  # 0 when consecutive
    steps = np.clip(steps, 0, None)
    missing = int(steps.sum())
    streams, index, counts = np.unique(key, return_inverse=True, return_counts=True)
    # Each gap belongs to the stream of the packet that ends it.
    missing_per_stream = np.bincount(index[1:][same], weights=steps, minlength=len(streams))
    whole = int(np.sum((counts == expected) & (missing_per_stream == 0)))
    if len(jitter_ms) == 0:
        jitter_ms = np.array([float("nan")])
    p50, p99, p999 = np.percentile(jitter_ms, [50, 99, 99.9])
    return StreamStats(
        streams=len(counts),
        packets=len(times),
        per_stream_min=int(counts.min()),
        per_stream_max=int(counts.max()),
        missing=missing,
        whole=whole,
        jitter_p50_ms=float(p50),
        jitter_p99_ms=float(p99),
        jitter_p999_ms=float(p999),
        jitter_max_ms=float(jitter_ms.max()),
    )
