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
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from voxcall.dialers.sip.datagrams import SLOT, DatagramReader, Datagrams
from voxcall.dialers.sip.g711 import ALAW_DECODE, ULAW_DECODE, alaw_to_samples, ulaw_to_samples
from voxcall.dialers.sip.rtp import RTP_HEADER_LENGTH, RTP_VERSION, RtpPacket
from voxcall.dialers.sip.sdp import PCMA, PCMU
from voxcall.dialers.sip.telephone_event import TelephoneEvent

log = logging.getLogger("voxcall.sip")

_PLAIN_HEADER = RTP_VERSION << 6  # the first byte without padding, extension or CSRC
_HEADER = struct.Struct("!xBxxII")  # marker and payload type, timestamp, SSRC
TICK = 0.2  # seconds between two reads of every listening socket (RtpReceiver): 0.1 s cost
# a quarter more CPU at 500 calls (per call and tick: a wake of its socket, numpy per call)
Samples = npt.NDArray[np.int16]

_DECODERS: dict[str, Callable[[bytes], npt.NDArray[np.int16]]] = {
    PCMU.name: ulaw_to_samples,
    PCMA.name: alaw_to_samples,
}
_TABLES = {PCMU.name: ULAW_DECODE, PCMA.name: ALAW_DECODE}  # the sample of each code
_BOTH_TABLES = np.concatenate((ULAW_DECODE, ALAW_DECODE))
_LAW_OFFSET = {PCMU.name: 0, PCMA.name: 256}  # of each law's codes in _BOTH_TABLES


def _pair_table(table: Samples) -> Samples:
    """The samples of every two codes read as one native uint16, in memory order."""
    pair = np.arange(1 << 16, dtype=np.uint16).view(np.uint8).reshape(-1, 2)
    return table.take(pair)


_PAIR_TABLES = {codec: _pair_table(table) for codec, table in _TABLES.items()}


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

    # Whether `audio` may still find something (else it is not called any more). A plain
    # attribute, which a listener clears: read for every call and tick.
    hears_audio = True

    def audio(self, samples: npt.NDArray[np.int16], at: float) -> Sequence[MediaEvent]:
        return ()

    def telephone_event(
        self, event: TelephoneEvent, ssrc: int, timestamp: int, at: float
    ) -> Sequence[MediaEvent]:
        return ()

    @classmethod
    def audio_of_many(
        cls, listeners: Sequence[Self], samples: Sequence[Samples], at: Sequence[float]
    ) -> list[Sequence[MediaEvent]]:
        """`audio` of many listeners of this class (of many calls) at once, listener i
        hearing samples[i] at at[i]: their events, in that order. A listener whose work
        costs less done for many calls at once (one numpy pass instead of one per call)
        does it here."""
        return [
            listener.audio(heard, when)
            for listener, heard, when in zip(listeners, samples, at, strict=True)
        ]


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
    the datagrams of a while at once (`packet` each, or a read of many calls' `Datagrams`,
    then `hear_all`)."""

    def __init__(self, media_format: InboundFormat, listeners: Sequence[MediaListener]) -> None:
        self.format = media_format
        self.listeners = tuple(listeners)
        self._payloads: list[bytes] = []  # audio not yet decoded, in order of arrival

    def received(self, data: bytes, at: float) -> list[MediaEvent]:
        """The events one datagram gives rise to. ValueError if it is not RTP; packets of
        other payload types (comfort noise, another codec) are ignored."""
        events = self.packet(data, at)
        return events + hear_all([(self, at)])[0]

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

    def _packets(self, read: Datagrams, rows: range, at: float) -> list[MediaEvent]:
        """`packet` of each of a read's `rows` (the one boundary: a datagram that is not RTP,
        or was cut, costs only itself)."""
        events: list[MediaEvent] = []
        for row in rows:
            if read.cut[row]:
                log.debug("dropped a datagram of over %d bytes", SLOT)
                continue
            try:
                events += self.packet(read.datagram(row), at)
            except ValueError as exc:
                log.debug("dropped a datagram: %s", exc)
        return events

    def take_payloads(self) -> bytes:
        """The audio payloads of the datagrams taken since the last call, joined."""
        payloads, self._payloads = self._payloads, []
        return payloads[0] if len(payloads) == 1 else b"".join(payloads)


# Of one listener class: the index of each call it hears, its listeners, what they hear, when.
_Hearing = tuple[list[int], list[MediaListener], list[Samples], list[float]]


def hear_all(
    calls: Sequence[tuple[InboundMedia, float]], read: Datagrams | None = None
) -> list[list[MediaEvent]]:
    """The events of what each call (with the time it is heard at) has taken since the last
    time and of its datagrams in `read` (its `counts` in the order of `calls`), in the order
    of `calls`: its telephone-events first, then what its listeners find in its audio.

    A read is nearly all plain audio of each call's law: every such call's datagrams are
    checked, stripped and decoded at once (`_decode_plain`), a call's other datagrams one
    by one (`packet`). Each listener class hears all calls at once
    (`MediaListener.audio_of_many`): numpy's cost per call is most of the cost of a few
    packets."""
    events: list[list[MediaEvent]] = [[] for _ in calls]
    heard: list[tuple[int, Samples]] = []
    if read is not None and len(read.rows):
        decoded = _decode_plain([media for media, _ in calls], read)
        row = 0
        for index, ((media, at), samples, count) in enumerate(
            zip(calls, decoded, read.counts, strict=True)
        ):
            if samples is not None:
                heard.append((index, samples))
            elif count:  # not all plain audio: datagram by datagram
                events[index] += media._packets(read, range(row, row + count), at)
            row += count
    for index, (media, _) in enumerate(calls):
        if media._payloads:
            heard.append((index, _DECODERS[media.format.codec](media.take_payloads())))
    by_class: dict[type[MediaListener], _Hearing] = {}
    for index, samples in heard:
        media, at = calls[index]
        for listener in media.listeners:
            if listener.hears_audio:
                hearing = by_class.get(type(listener))
                if hearing is None:
                    hearing = by_class[type(listener)] = ([], [], [], [])
                hearing[0].append(index)
                hearing[1].append(listener)
                hearing[2].append(samples)
                hearing[3].append(at)
    for kind, (indexes, listeners, samples_of, at_of) in by_class.items():
        found_of = kind.audio_of_many(listeners, samples_of, at_of)
        for index, found in zip(indexes, found_of, strict=True):
            if found:
                events[index].extend(found)
    return events


def _decode_plain(calls: Sequence[InboundMedia], read: Datagrams) -> list[Samples | None]:
    """The audio of each call whose datagrams in `read` are all plain audio of its law (no
    padding, extension or CSRC; its payload type); None for the others (and for a call
    with none). Checked, stripped and decoded in a few numpy passes over all calls: per
    datagram, Python would cost more than the whole decoding."""
    rows, lengths, counts = read.rows, read.lengths, read.counts
    payload_types = np.repeat([media.format.payload_type for media in calls], counts)
    good = (
        (lengths > RTP_HEADER_LENGTH)
        & (lengths <= rows.shape[1])  # the rest of a longer one is in its overflow row
        & (rows[:, 0] == _PLAIN_HEADER)
        & (rows[:, 1] & 0x7F == payload_types)
    )
    size = int(lengths[0])
    plain = [count > 0 for count in counts]
    if good.all() and (lengths == size).all():
        # The usual read: equal packets, every one plain. Their payloads are columns.
        codes = rows[:, RTP_HEADER_LENGTH:size]
        payload_lengths = np.array(counts, np.intp) * (size - RTP_HEADER_LENGTH)
    else:
        call_of = np.repeat(np.arange(len(calls)), counts)
        bad = np.zeros(len(calls), dtype=bool)
        bad[call_of[~good]] = True
        keep = np.flatnonzero(~bad[call_of])
        kept_lengths = lengths[keep] - RTP_HEADER_LENGTH
        starts = keep * rows.shape[1] + RTP_HEADER_LENGTH
        codes = rows.reshape(-1)[_ragged(starts, kept_lengths)]
        payload_lengths = np.bincount(call_of[keep], kept_lengths, len(calls)).astype(np.intp)
        plain = [count > 0 and not no for count, no in zip(counts, bad.tolist(), strict=True)]
    codecs = {media.format.codec for media, yes in zip(calls, plain, strict=True) if yes}
    if len(codecs) == 1:
        samples = _decode_codes(codes, codecs.pop())
    else:  # calls in both laws (or none): each code looked up in its law's half
        law = np.repeat([_LAW_OFFSET[media.format.codec] for media in calls], payload_lengths)
        samples = _BOTH_TABLES.take(codes.reshape(-1) + law)
    heard: list[Samples | None] = []
    start = 0
    for end, yes in zip(np.cumsum(payload_lengths).tolist(), plain, strict=True):
        heard.append(samples[start:end] if yes else None)
        start = end
    return heard


def _decode_codes(codes: npt.NDArray[np.uint8], codec: str) -> Samples:
    """The samples of `codes` in `codec`, flat. Codes in rows of even length are looked up
    two at a time (a 65,536-entry table of pairs: half the lookups)."""
    if codes.ndim == 2 and codes.shape[1] % 2 == 0 and codes.strides[1] == 1:
        return _PAIR_TABLES[codec].take(codes.view(np.uint16), axis=0).reshape(-1)
    return _TABLES[codec].take(codes).reshape(-1)


def _ragged(starts: npt.NDArray[np.intp], lengths: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The indexes of the slices [start, start + length), one after another."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)


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
        self._reader = DatagramReader()

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
        calls = list(self._calls.values())
        read = self._reader.read(list(self._calls))
        heard = hear_all([(call.media, now - call.started) for call in calls], read)
        for call, events in zip(calls, heard, strict=True):
            for event in events:
                call.report(event)


@dataclass(frozen=True, slots=True)
class _Listening:
    """A socket's call, as the receiver keeps it."""

    media: InboundMedia
    started: float  # on the loop's clock
    report: Callable[[MediaEvent], None]
