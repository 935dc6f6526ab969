"""The callee's media as it arrives: RTP in; decoded audio and telephone-events to listeners.

This is where the detectors that watch a call (key presses, answering-machine detection)
meet the callee. `InboundMedia` turns each datagram of the call's RTP into 8 kHz samples (the
negotiated G.711 law, decoded) or a telephone-event (RFC 4733) and hands it to the call's
`MediaListener`s, which answer with `MediaEvent`s for the call. `RtpReceiver` reads the
sockets of listening calls on one event loop, all of them at once every TICK.

Both run in the process that receives the RTP: SipDialer's media process
(media_process.py), which sends the events back to the call as small JSON messages. So a
listener is built in that process from its name and JSON settings (listeners.py), never
handed over as an object; and a listener must be quick, since it runs between the packets
the pacer sends.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from voxcall.dialers.sip.g711 import alaw_to_samples, ulaw_to_samples
from voxcall.dialers.sip.rtp import RTP_HEADER_LENGTH, RTP_VERSION, RtpPacket
from voxcall.dialers.sip.sdp import PCMA, PCMU
from voxcall.dialers.sip.telephone_event import TelephoneEvent

log = logging.getLogger("voxcall.sip")

_PLAIN_HEADER = RTP_VERSION << 6  # the first byte without padding, extension or CSRC
_HEADER = struct.Struct("!xBxxII")  # marker and payload type, timestamp, SSRC
MAX_DATAGRAM = 2048  # larger than any G.711 or telephone-event packet
TICK = 0.1  # seconds between two reads of every listening socket (RtpReceiver)
READS_PER_TICK = 64  # datagrams read from one socket in a tick, at most (a flood waits)
Samples = npt.NDArray[np.int16]

_DECODERS: dict[str, Callable[[bytes], npt.NDArray[np.int16]]] = {
    PCMU.name: ulaw_to_samples,
    PCMA.name: alaw_to_samples,
}


@dataclass(frozen=True, slots=True)
class MediaEvent:
    """What a listener tells the call: e.g. kind "key", value "5". `at` is seconds since
    the call began listening, on the receiving process's clock."""

    kind: str
    value: str
    at: float
    detail: str = ""  # e.g. which carrier brought a key: "rfc4733", "inband"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "at": self.at, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MediaEvent:
        return cls(str(data["kind"]), str(data["value"]), float(data["at"]), str(data["detail"]))


class MediaListener:
    """Watches one call's incoming media. Each method returns the events it gives rise to
    (usually none). The audio comes in pieces of any length (what arrived since the last
    read, in order of arrival); a gap (loss, silence suppression) is not filled."""

    @property
    def hears_audio(self) -> bool:
        """Whether `audio` may still find something (else it is not called any more)."""
        return True

    def audio(self, samples: npt.NDArray[np.int16], at: float) -> Sequence[MediaEvent]:
        return ()

    def telephone_event(
        self, event: TelephoneEvent, ssrc: int, timestamp: int, at: float
    ) -> Sequence[MediaEvent]:
        return ()

    @classmethod
    def audio_of_many(
        cls, heard: Sequence[tuple[Self, Samples, float]]
    ) -> list[Sequence[MediaEvent]]:
        """`audio` of many listeners of this class (of many calls) at once: their events in
        the order of `heard`. A listener whose work costs less done for many calls at once
        (one numpy pass instead of one per call) does it here."""
        return [listener.audio(samples, at) for listener, samples, at in heard]


@dataclass(frozen=True, slots=True)
class InboundFormat:
    """What the SDP answer says the callee sends: the G.711 law and its payload type, and
    the payload type of telephone-events (None if it did not accept them)."""

    codec: str  # "PCMU" or "PCMA"
    payload_type: int
    event_payload_type: int | None = None

    def __post_init__(self) -> None:
        if self.codec not in _DECODERS:
            raise ValueError(f"cannot decode {self.codec}: only PCMU and PCMA")

    def to_json(self) -> dict[str, Any]:
        return {"codec": self.codec, "pt": self.payload_type, "events": self.event_payload_type}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InboundFormat:
        events = data["events"]
        return cls(str(data["codec"]), int(data["pt"]), None if events is None else int(events))


class InboundMedia:
    """One call's received RTP through its listeners: datagram by datagram (`received`), or
    the datagrams of a while at once (`packet` each, then `hear_all`)."""

    def __init__(self, media_format: InboundFormat, listeners: Sequence[MediaListener]) -> None:
        self.format = media_format
        self.listeners = tuple(listeners)
        self._payloads: list[bytes] = []  # audio not yet decoded, in order of arrival

    def received(self, data: bytes, at: float) -> list[MediaEvent]:
        """The events one datagram gives rise to. ValueError if it is not RTP; packets of
        other payload types (comfort noise, another codec) are ignored."""
        events = self.packet(data, at)
        return events + hear_all([(self, at)])[0]

    def take(self, datagrams: Sequence[bytes], at: float) -> list[MediaEvent]:
        """`packet` of each of a read's datagrams, in order of arrival; one that is not RTP
        is dropped (the one boundary: a bad packet costs only itself)."""
        payload_type = self.format.payload_type
        # Nearly every read is all plain audio (no padding, extension or CSRC): one pass that
        # calls nothing per datagram. Else datagram by datagram.
        audio = [
            data[RTP_HEADER_LENGTH:]
            for data in datagrams
            if len(data) > RTP_HEADER_LENGTH
            and data[0] == _PLAIN_HEADER
            and data[1] & 0x7F == payload_type
        ]
        if len(audio) == len(datagrams):
            self._payloads += audio
            return []
        events: list[MediaEvent] = []
        for data in datagrams:
            try:
                events += self.packet(data, at)
            except ValueError as exc:
                log.debug("dropped a datagram: %s", exc)
        return events

    def packet(self, data: bytes, at: float) -> list[MediaEvent]:
        """Take one datagram: a telephone-event goes to the listeners now (the events it
        gives rise to), audio waits for `hear_all`. ValueError as `received`."""
        plain = len(data) > RTP_HEADER_LENGTH and data[0] == _PLAIN_HEADER
        # No padding, extension or CSRC, as nearly every packet: no need for a whole parse.
        if plain and data[1] & 0x7F == self.format.payload_type:
            self._payloads.append(data[RTP_HEADER_LENGTH:])
            return []
        if plain:
            marker_type, timestamp, ssrc = _HEADER.unpack_from(data)
            payload_type, payload = marker_type & 0x7F, data[RTP_HEADER_LENGTH:]
        else:
            packet = RtpPacket.parse(data)
            payload_type, timestamp, ssrc = packet.payload_type, packet.timestamp, packet.ssrc
            payload = packet.payload
        if payload_type == self.format.payload_type:
            self._payloads.append(payload)
        elif payload_type == self.format.event_payload_type:
            event = TelephoneEvent.parse(payload)
            return [
                found
                for listener in self.listeners
                for found in listener.telephone_event(event, ssrc, timestamp, at)
            ]
        return []

    def take_payloads(self) -> bytes:
        """The audio payloads of the datagrams taken since the last call, joined."""
        payloads, self._payloads = self._payloads, []
        return payloads[0] if len(payloads) == 1 else b"".join(payloads)


def hear_all(calls: Sequence[tuple[InboundMedia, float]]) -> list[list[MediaEvent]]:
    """The audio each call (with the time it is heard at) has taken since the last time,
    through its listeners, and the events it gives rise to, in the order of `calls`. The
    audio of all calls in one law is decoded at once, and each listener class hears all
    calls at once (`MediaListener.audio_of_many`): numpy's cost per call is most of the
    cost of a few packets."""
    coded: dict[str, list[tuple[int, InboundMedia, list[bytes], float]]] = {}
    for index, (media, at) in enumerate(calls):
        if media._payloads:
            payloads, media._payloads = media._payloads, []
            coded.setdefault(media.format.codec, []).append((index, media, payloads, at))
    # Per listener class: the index in `calls` of each call it hears, and what it hears.
    heard: dict[type[MediaListener], tuple[list[int], list[tuple[MediaListener, Samples, float]]]]
    heard = {}
    for codec, taken in coded.items():
        samples = _DECODERS[codec](b"".join(chain.from_iterable(p for _, _, p, _ in taken)))
        start = 0
        for index, media, payloads, at in taken:
            end = start + sum(map(len, payloads))
            for listener in media.listeners:
                if listener.hears_audio:
                    indexes, items = heard.setdefault(type(listener), ([], []))
                    indexes.append(index)
                    items.append((listener, samples[start:end], at))
            start = end
    events: list[list[MediaEvent]] = [[] for _ in calls]
    for kind, (indexes, items) in heard.items():
        for index, found in zip(indexes, kind.audio_of_many(items), strict=True):
            if found:
                events[index].extend(found)
    return events


class RtpReceiver:
    """Reads the RTP sockets of listening calls on `loop`. `listen` takes a socket until
    `unlisten` (or `close`) closes it; the events of its datagrams go to `report`.

    The sockets are read every TICK seconds, not when each datagram arrives: one wake-up
    reads every call's few packets, and the listeners hear all calls' audio at once, which
    costs a fraction of a wake-up and a pass of numpy per packet (BENCHMARKS.md 5b). What
    the listeners find comes up to a TICK later.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: dict[socket.socket, _Listening] = {}
        self._tick: asyncio.TimerHandle | None = None

    @property
    def listening(self) -> int:
        return len(self._calls)

    def listen(
        self,
        sock: socket.socket,
        media: InboundMedia,
        report: Callable[[MediaEvent], None],
    ) -> None:
        sock.setblocking(False)
        self._calls[sock] = _Listening(media, self._loop.time(), report)
        if self._tick is None:
            self._tick = self._loop.call_later(TICK, self._read_all)

    def unlisten(self, sock: socket.socket) -> None:
        """Stop reading `sock` and close it."""
        self._calls.pop(sock, None)
        if not self._calls and self._tick is not None:
            self._tick.cancel()
            self._tick = None
        sock.close()

    def close(self) -> None:
        for sock in list(self._calls):
            self.unlisten(sock)

    def _read_all(self) -> None:
        self._tick = self._loop.call_later(TICK, self._read_all)
        now = self._loop.time()
        calls = list(self._calls.items())
        for sock, call in calls:
            datagrams = _read(sock)
            if datagrams:
                for event in call.media.take(datagrams, now - call.started):
                    call.report(event)
        heard = hear_all([(call.media, now - call.started) for _, call in calls])
        for (_, call), events in zip(calls, heard, strict=True):
            for event in events:
                call.report(event)


def _read(sock: socket.socket) -> list[bytes]:
    """The datagrams waiting on `sock`, READS_PER_TICK at most."""
    datagrams: list[bytes] = []
    receive, keep = sock.recv, datagrams.append
    for _ in range(READS_PER_TICK):
        try:
            keep(receive(MAX_DATAGRAM))
        except BlockingIOError:
            break
        except OSError as exc:  # an ICMP error for what we sent: not the callee's media
            log.debug("RTP socket %s: %s", sock.getsockname(), exc)
    return datagrams


@dataclass(frozen=True, slots=True)
class _Listening:
    """A socket's call, as the receiver keeps it."""

    media: InboundMedia
    started: float  # on the loop's clock
    report: Callable[[MediaEvent], None]
