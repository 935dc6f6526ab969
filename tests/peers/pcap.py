"""Classic pcap files of UDP over IPv4 on Ethernet: read the datagrams of a capture, and
write RTP streams that SIPp's play_pcap_audio replays (it reads the UDP payloads)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_MAGIC = 0xA1B2C3D4
_ETHERNET = 1
_ETHER_HEADER = 14
_UDP_HEADER = 8


def udp_payloads(path: Path) -> list[tuple[float, bytes]]:
    """(capture time, UDP payload) of every packet, in file order."""
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = _GLOBAL.unpack_from(data)
    if magic != _MAGIC or linktype != _ETHERNET:
        raise ValueError(f"{path.name}: not a little-endian Ethernet pcap")
    packets = []
    pos = _GLOBAL.size
    while pos < len(data):
        seconds, micros, captured, _ = _RECORD.unpack_from(data, pos)
        frame = data[pos + _RECORD.size : pos + _RECORD.size + captured]
        ip = frame[_ETHER_HEADER:]
        ip_header = (ip[0] & 0x0F) * 4
        packets.append((seconds + micros / 1e6, ip[ip_header + _UDP_HEADER :]))
        pos += _RECORD.size + captured
    return packets


def udp_pcap(datagrams: Iterable[tuple[float, bytes]]) -> bytes:
    """A pcap of `datagrams` (time, payload) from 10.0.0.1:6000 to 10.0.0.2:6000 (SIPp
    replaces the addresses by the call's)."""
    out = [_GLOBAL.pack(_MAGIC, 2, 4, 0, 0, 65535, _ETHERNET)]
    for at, payload in datagrams:
        udp = struct.pack("!HHHH", 6000, 6000, _UDP_HEADER + len(payload), 0) + payload
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            0,
            0,
            64,
            17,
            0,
            bytes([10, 0, 0, 1]),
            bytes([10, 0, 0, 2]),
        )
        frame = bytes(12) + b"\x08\x00" + ip + udp
        seconds = int(at)
        out.append(_RECORD.pack(seconds, round((at - seconds) * 1e6), len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)
