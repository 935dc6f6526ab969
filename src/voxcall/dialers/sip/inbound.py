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

from voxcall.dialers.sip.g711 import ALAW_DECODE, ULAW_DECODE, alaw_to_samples, ulaw_to_samples
from voxcall.dialers.sip.rtp import RTP_HEADER_LENGTH, RTP_VERSION, RtpPacket
from voxcall.dialers.sip.sdp import PCMA, PCMU
from voxcall.dialers.sip.telephone_event import TelephoneEvent

log = logging.getLogger("voxcall.sip")

_PLAIN_HEADER = RTP_VERSION << 6  # the first byte without padding, extension or CSRC
_HEADER = struct.Struct("!xBxxII")  # marker and payload type, timestamp, SSRC
MAX_DATAGRAM = 2048  # larger than any G.711 or telephone-event packet
TICK = 0.2  # seconds between two reads of every listening socket (RtpReceiver): 0.1 s cost
# a quarter more CPU at 500 calls (per call and tick: a wake of its socket, numpy per call)
READS_PER_TICK = 128  # datagrams read from one socket in a tick, at most (a flood waits)
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


_PAIR_TABLES = {id(table): _pair_table(table) for table in _TABLES.values()}


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
    the datagrams of a while at once (`packet` or `take` each read, then `hear_all`)."""

    def __init__(self, media_format: InboundFormat, listeners: Sequence[MediaListener]) -> None:
        self.format = media_format
        self.listeners = tuple(listeners)
        self._payloads: list[bytes] = []  # audio not yet decoded, in order of arrival
        self._datagrams: list[bytes] = []  # taken, not yet looked at: after the payloads

    def received(self, data: bytes, at: float) -> list[MediaEvent]:
        """The events one datagram gives rise to. ValueError if it is not RTP; packets of
        other payload types (comfort noise, another codec) are ignored."""
        events = self.packet(data, at)
        return events + hear_all([(self, at)])[0]

    def take(self, datagrams: list[bytes]) -> None:
        """Keep a read's datagrams, in order of arrival, for `hear_all`: it looks at every
        call's at once (nearly all plain audio), and takes any other datagram by datagram
        (`packet`); one that is not RTP is dropped there."""
        if self._datagrams:
            self._datagrams += datagrams
        else:
            self._datagrams = datagrams

    def packet(self, data: bytes, at: float) -> list[MediaEvent]:
        """Take one datagram: a telephone-event goes to the listeners now (the events it
        gives rise to), audio waits for `hear_all`. ValueError as `received`."""
        events = self._unpack_taken(at) if self._datagrams else []
        plain = len(data) > RTP_HEADER_LENGTH and data[0] == _PLAIN_HEADER
        # No padding, extension or CSRC, as nearly every packet: no need for a whole parse.
        if plain and data[1] & 0x7F == self.format.payload_type:
            self._payloads.append(data[RTP_HEADER_LENGTH:])
            return events
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
            events += [
                found
                for listener in self.listeners
                for found in listener.telephone_event(event, ssrc, timestamp, at)
            ]
        return events

    def _unpack_taken(self, at: float) -> list[MediaEvent]:
        """`packet` of each datagram taken and not yet looked at (the one boundary: a bad
        datagram costs only itself)."""
        taken, self._datagrams = self._datagrams, []
        events: list[MediaEvent] = []
        for data in taken:
            try:
                events += self.packet(data, at)
            except ValueError as exc:
                log.debug("dropped a datagram: %s", exc)
        return events

    def take_payloads(self) -> bytes:
        """The audio payloads of the datagrams taken since the last call, joined."""
        payloads, self._payloads = self._payloads, []
        return payloads[0] if len(payloads) == 1 else b"".join(payloads)


# Of one listener class: the index of each call it hears, its listeners, what they hear, when.
_Hearing = tuple[list[int], list[MediaListener], list[Samples], list[float]]


def hear_all(calls: Sequence[tuple[InboundMedia, float]]) -> list[list[MediaEvent]]:
    """The events of what each call (with the time it is heard at) has taken since the last
    time, in the order of `calls`: its telephone-events first, then what its listeners find
    in its audio. Each listener class hears all calls at once
    (`MediaListener.audio_of_many`): numpy's cost per call is most of the cost of a few
    packets. Datagrams taken by `take` are nearly always plain audio of the call's law;
    all such calls' are checked, stripped and decoded in a few numpy passes (`_decode_plain`),
    the others' datagram by datagram."""
    events: list[list[MediaEvent]] = [[] for _ in calls]
    plain = [i for i, (media, _) in enumerate(calls) if media._datagrams and not media._payloads]
    heard: list[tuple[int, Samples]] = []
    if plain:
        decoded = _decode_plain([calls[i][0] for i in plain])
        heard = [
            (i, samples) for i, samples in zip(plain, decoded, strict=True) if samples is not None
        ]
    for index, (media, at) in enumerate(calls):
        if media._datagrams:  # not plain audio: taken datagram by datagram
            events[index] += media._unpack_taken(at)
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


def _decode_plain(taken: Sequence[InboundMedia]) -> list[Samples | None]:
    """The audio of each call of `taken` whose datagrams are all plain audio of its law
    (no padding, extension or CSRC; its payload type), its datagrams then forgotten; None
    for the others (their datagrams left taken). The datagrams of all calls are joined
    once and checked, stripped and decoded in a few numpy passes: per datagram, Python
    would cost more than the whole decoding."""
    reads = [media._datagrams for media in taken]
    counts = list(map(len, reads))
    datagrams = list(chain.from_iterable(reads))
    lengths = np.fromiter(map(len, datagrams), np.intp, len(datagrams))
    datagrams.append(b"\0\0")  # so that the first two bytes of an empty one can be read
    joined = np.frombuffer(b"".join(datagrams), np.uint8)
    starts = np.cumsum(lengths) - lengths
    payload_types = np.repeat([media.format.payload_type for media in taken], counts)
    good = (
        (lengths > RTP_HEADER_LENGTH)
        & (joined[starts] == _PLAIN_HEADER)
        & (joined[starts + 1] & 0x7F == payload_types)
    )
    size = int(lengths[0])
    codecs = {media.format.codec for media in taken}
    bad_calls: list[bool] | None = None
    if good.all() and (lengths == size).all():
        # The usual read: equal packets, every one plain. Their payloads are columns.
        codes = joined[:-2].reshape(-1, size)[:, RTP_HEADER_LENGTH:]
        payload_lengths = np.array(counts, np.intp) * (size - RTP_HEADER_LENGTH)
    else:
        call_of = np.repeat(np.arange(len(taken)), counts)
        bad = np.zeros(len(taken), dtype=bool)
        bad[call_of[~good]] = True
        keep = ~bad[call_of]
        kept_lengths = lengths[keep] - RTP_HEADER_LENGTH
        codes = joined[_ragged(starts[keep] + RTP_HEADER_LENGTH, kept_lengths)]
        payload_lengths = np.bincount(call_of[keep], kept_lengths, len(taken)).astype(np.intp)
        bad_calls = bad.tolist()
        codecs = {media.format.codec for media, no in zip(taken, bad_calls, strict=True) if not no}
    if len(codecs) == 1:
        samples = _decode_codes(codes, _TABLES[codecs.pop()])
    else:  # calls in both laws (or none): each code looked up in its law's half
        law = np.repeat([_LAW_OFFSET[media.format.codec] for media in taken], payload_lengths)
        samples = _BOTH_TABLES.take(codes.reshape(-1) + law)
    ends = np.cumsum(payload_lengths).tolist()
    heard: list[Samples | None] = []
    start = 0
    for index, end in enumerate(ends):
        if bad_calls is not None and bad_calls[index]:
            heard.append(None)
        else:
            taken[index]._datagrams = []
            heard.append(samples[start:end])
        start = end
    return heard


def _decode_codes(codes: npt.NDArray[np.uint8], table: Samples) -> Samples:
    """`table.take(codes)`, flat. Codes in rows of even length are looked up two at a time
    (a 65,536-entry table of pairs: half the lookups)."""
    if codes.ndim == 2 and codes.shape[1] % 2 == 0 and codes.strides[1] == 1:
        pairs = _PAIR_TABLES[id(table)]
        return pairs.take(codes.view(np.uint16), axis=0).reshape(-1)
    return table.take(codes).reshape(-1)


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
                call.media.take(datagrams)
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
