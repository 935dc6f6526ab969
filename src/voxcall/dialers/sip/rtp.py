"""RTP data packets (RFC 3550 section 5.1) and the wrap-around arithmetic of their counters."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
RTP_HEADER_LENGTH = 12
MAX_CSRC = 15

_FIXED_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")
_CSRC = struct.Struct("!I")


def uint16_add(a: int, b: int) -> int:
    """`a + b` modulo 2**16: how RTP sequence numbers advance."""
    return (a + b) & 0xFFFF


def uint32_add(a: int, b: int) -> int:
    """`a + b` modulo 2**32: how RTP timestamps advance."""
    return (a + b) & 0xFFFFFFFF


def pack_header(
    payload_type: int, sequence_number: int, timestamp: int, ssrc: int, marker: bool
) -> bytes:
    """The 12-byte fixed header with no CSRC, extension or padding.

    The pacer's hot path: it builds one header per packet for every active call, so this
    skips the range checks that `RtpPacket.serialize` does; its callers keep values in range.
    """
    return _FIXED_HEADER.pack(
        RTP_VERSION << 6, marker << 7 | payload_type, sequence_number, timestamp, ssrc
    )


@dataclass(frozen=True)
class RtpExtension:
    """A header extension (RFC 3550 section 5.3.1): profile-defined id and 32-bit words."""

    profile: int
    data: bytes = b""


@dataclass
class RtpPacket:
    """One RTP data packet. `padding` is the number of padding octets, count byte included."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: list[int] = field(default_factory=list)
    extension: RtpExtension | None = None
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < RTP_HEADER_LENGTH:
            raise ValueError(
                f"RTP packet is {len(data)} bytes, shorter than the {RTP_HEADER_LENGTH}-byte header"
            )
        first, second, sequence_number, timestamp, ssrc = _FIXED_HEADER.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise ValueError(f"RTP version is {version}, expected {RTP_VERSION}")
        if 192 <= second <= 223:
            # RFC 5761 section 4: RTCP packet types 192-223 collide with marker + PT 64-95.
            raise ValueError(f"packet type {second} is RTCP, not RTP")
        has_padding = bool(first & 0x20)
        has_extension = bool(first & 0x10)
        csrc_count = first & 0x0F

        pos = RTP_HEADER_LENGTH
        if len(data) < pos + 4 * csrc_count:
            raise ValueError(
                f"RTP packet announces {csrc_count} CSRC but has only "
                f"{len(data) - pos} bytes after the fixed header"
            )
        csrc = [_CSRC.unpack_from(data, pos + 4 * i)[0] for i in range(csrc_count)]
        pos += 4 * csrc_count

        extension = None
        if has_extension:
            if len(data) < pos + _EXTENSION_HEADER.size:
                raise ValueError("RTP header extension is truncated before its length field")
            profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
            pos += _EXTENSION_HEADER.size
            if len(data) < pos + 4 * words:
                raise ValueError(
                    f"RTP header extension announces {4 * words} bytes "
                    f"but only {len(data) - pos} follow"
                )
            extension = RtpExtension(profile, data[pos : pos + 4 * words])
            pos += 4 * words

        end = len(data)
        padding = 0
        if has_padding:
            padding = data[-1]
            if padding == 0 or padding > end - pos:
                raise ValueError(
                    f"RTP padding count {padding} is invalid with {end - pos} bytes "
                    "after the header"
                )
            end -= padding

        return cls(
            payload_type=second & 0x7F,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=data[pos:end],
            marker=bool(second & 0x80),
            csrc=csrc,
            extension=extension,
            padding=padding,
        )

    def serialize(self) -> bytes:
        self._check_ranges()
        first = RTP_VERSION << 6 | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        parts = [
            _FIXED_HEADER.pack(
                first,
                self.marker << 7 | self.payload_type,
                self.sequence_number,
                self.timestamp,
                self.ssrc,
            ),
            *(_CSRC.pack(source) for source in self.csrc),
        ]
        if self.extension is not None:
            parts.append(
                _EXTENSION_HEADER.pack(self.extension.profile, len(self.extension.data) // 4)
            )
            parts.append(self.extension.data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)

    def _check_ranges(self) -> None:
        for name, value, bits in (
            ("payload_type", self.payload_type, 7),
            ("sequence_number", self.sequence_number, 16),
            ("timestamp", self.timestamp, 32),
            ("ssrc", self.ssrc, 32),
            ("padding", self.padding, 8),
        ):
            if not 0 <= value < 1 << bits:
                raise ValueError(f"RTP {name} {value} does not fit in {bits} bits")
        if len(self.csrc) > MAX_CSRC:
            raise ValueError(f"RTP packet has {len(self.csrc)} CSRC, at most {MAX_CSRC} fit")
        for source in self.csrc:
            if not 0 <= source < 1 << 32:
                raise ValueError(f"RTP CSRC {source} does not fit in 32 bits")
        if self.extension is not None:
            if not 0 <= self.extension.profile < 1 << 16:
                raise ValueError(
                    f"RTP extension profile {self.extension.profile} does not fit in 16 bits"
                )
            if len(self.extension.data) % 4 or len(self.extension.data) >= 4 << 16:
                raise ValueError(
                    f"RTP extension data must be whole 32-bit words (at most 65535), "
                    f"got {len(self.extension.data)} bytes"
                )
