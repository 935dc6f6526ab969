"""RFC 4733 telephone-events: the payload of a DTMF key press carried in RTP.

A press is sent as a run of packets with the same RTP timestamp (the press's start) and a
growing duration; its last packet has the end bit and is sent three times (§2.5.1.4). So
one press is one timestamp: `KeyPressEvents` reports a key the first time a timestamp
appears, whichever of its packets arrives first (the start may be lost), and never again
for that timestamp, however many packets, end bits or retransmissions follow.
"""

from __future__ import annotations

import collections
import struct
from dataclasses import dataclass

from voxcall.domain.interaction import KEYS

_PAYLOAD = struct.Struct("!BBH")


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One telephone-event payload (RFC 4733 §2.3): the event code (0-9, 10 = *, 11 = #,
    12-15 = A-D for DTMF), the end bit, the volume (0 to -63 dBm0, as 0-63) and the
    duration so far, in RTP timestamp units."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        # Several events may share a packet (§2.5.1.5: redundancy); the first is the newest.
        if len(payload) < _PAYLOAD.size:
            raise ValueError(
                f"telephone-event payload is {len(payload)} bytes, shorter than {_PAYLOAD.size}"
            )
        event, flags, duration = _PAYLOAD.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        if not 0 <= self.event < 256:
            raise ValueError(f"telephone-event code {self.event} does not fit in 8 bits")
        if not 0 <= self.volume < 64:
            raise ValueError(f"telephone-event volume {self.volume} is not in 0-63")
        if not 0 <= self.duration < 1 << 16:
            raise ValueError(f"telephone-event duration {self.duration} does not fit in 16 bits")
        return _PAYLOAD.pack(self.event, self.end << 7 | self.volume, self.duration)

    @property
    def key(self) -> str | None:
        """The DTMF key of the event, or None for the other events (tones, flash, ...)."""
        return KEYS[self.event] if self.event < len(KEYS) else None


RECENT_PRESSES = 8  # presses remembered, so that a late (reordered) packet is not a new one


class KeyPressEvents:
    """Turns the telephone-event packets of one stream into key presses, each counted once."""

    def __init__(self) -> None:
        self._recent: collections.deque[tuple[int, int]] = collections.deque(
            maxlen=RECENT_PRESSES
        )  # (SSRC, timestamp) of the last presses

    def packet(self, ssrc: int, timestamp: int, event: TelephoneEvent) -> str | None:
        """The key this packet starts, or None when it belongs to a press already counted
        (or is not a key). A new SSRC (the far end restarted its stream) starts afresh."""
        press = (ssrc, timestamp)
        if press in self._recent:
            return None
        self._recent.append(press)
        return event.key
