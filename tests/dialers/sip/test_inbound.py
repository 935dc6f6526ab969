"""The callee's media reaching listeners: datagram by datagram, and through the media process
over real UDP."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.audio.dtmf_signals import key_tone, pause
from tests.dialers.sip.test_media import tone, udp
from tests.peers.pcap import udp_payloads
from voxcall.dialers.sip.datagrams import Datagrams
from voxcall.dialers.sip.g711 import alaw_to_samples, pcm_to_alaw, pcm_to_ulaw
from voxcall.dialers.sip.inbound import (
    TICK,
    InboundFormat,
    InboundMedia,
    MediaEvent,
    MediaListener,
    RtpReceiver,
    hear_all,
)
from voxcall.dialers.sip.keys import KeyPressListener
from voxcall.dialers.sip.listeners import build_listeners
from voxcall.dialers.sip.media_process import MediaProcess
from voxcall.dialers.sip.rtp import RtpExtension, RtpPacket
from voxcall.dialers.sip.telephone_event import TelephoneEvent

__all__ = ["udp"]  # a fixture, shared with test_media

DATA = Path(__file__).parent / "data"
PCMA_101 = InboundFormat("PCMA", 8, 101)


def star_press() -> list[bytes]:
    """The ten datagrams of one press of * (a capture SIPp ships)."""
    return [payload for _, payload in udp_payloads(DATA / "dtmf_2833_star.pcap")]


def audio_packets(pcm: bytes, payload_type: int = 8) -> list[bytes]:
    alaw = pcm_to_alaw(pcm)
    return [
        RtpPacket(payload_type, n, 160 * n, 1234, alaw[160 * n : 160 * (n + 1)]).serialize()
        for n in range(len(alaw) // 160)
    ]


class Recorder(MediaListener):
    def __init__(self) -> None:
        self.frames: list[npt.NDArray[np.int16]] = []
        self.events: list[tuple[TelephoneEvent, int, int]] = []

    def audio(self, samples: npt.NDArray[np.int16], at: float) -> Sequence[MediaEvent]:
        self.frames.append(samples)
        return (MediaEvent("frame", str(len(samples)), at),)

    def telephone_event(
        self, event: TelephoneEvent, ssrc: int, timestamp: int, at: float
    ) -> Sequence[MediaEvent]:
        self.events.append((event, ssrc, timestamp))
        return ()


def test_audio_is_decoded_in_the_negotiated_law() -> None:
    recorder = Recorder()
    media = InboundMedia(PCMA_101, [recorder])
    pcm = tone(0.06)
    events = [event for packet in audio_packets(pcm) for event in media.received(packet, 0.5)]
    assert events == [MediaEvent("frame", "160", 0.5)] * 3
    assert np.array_equal(np.concatenate(recorder.frames), alaw_to_samples(pcm_to_alaw(pcm)))


def test_packets_with_csrc_extension_and_padding() -> None:
    recorder = Recorder()
    media = InboundMedia(PCMA_101, [recorder])
    payload = pcm_to_alaw(tone(0.02))
    packet = RtpPacket(
        8, 1, 160, 1234, payload, csrc=[7, 8], extension=RtpExtension(0xBEDE, bytes(4)), padding=4
    )
    assert media.received(packet.serialize(), 0.0) == [MediaEvent("frame", "160", 0.0)]
    assert np.array_equal(recorder.frames[0], alaw_to_samples(payload))


def test_telephone_events_reach_listeners_and_other_payload_types_do_not() -> None:
    recorder = Recorder()
    media = InboundMedia(PCMA_101, [recorder, KeyPressListener()])
    comfort_noise = RtpPacket(13, 1, 1, 1234, b"\x40").serialize()
    pcmu = audio_packets(tone(0.02), payload_type=0)[0]  # not the negotiated law
    events = [media.received(packet, 1.25) for packet in [*star_press(), comfort_noise, pcmu]]
    assert [event for found in events for event in found] == [
        MediaEvent("key", "*", 1.25, "rfc4733")
    ]
    assert len(recorder.events) == 10
    assert recorder.frames == []


def test_a_read_is_taken_as_its_datagrams_one_by_one() -> None:
    # A read of plain audio is taken in one pass, any other read datagram by datagram: both
    # must give the same audio in the same order and the same events, and a datagram that
    # is not RTP must cost only itself.
    audio = audio_packets(tone(0.1))
    extended = RtpPacket(
        8, 99, 0, 1234, bytes(range(160)), extension=RtpExtension(0xBEDE, bytes(4)), padding=4
    ).serialize()
    reads = [audio[:2], [audio[2], b"", b"not rtp", *star_press(), extended, audio[3]], audio[4:]]
    by_read, by_datagram = Recorder(), Recorder()
    media_by_read = InboundMedia(PCMA_101, [by_read])
    media_by_datagram = InboundMedia(PCMA_101, [by_datagram])
    events_by_read, events_by_datagram = [], []
    for read in reads:
        for datagram in read:
            with contextlib.suppress(ValueError):
                events_by_datagram += media_by_datagram.packet(datagram, 0.5)
        events_by_read += hear_all([(media_by_read, 0.5)], Datagrams.of([read]))[0]
        events_by_datagram += hear_all([(media_by_datagram, 0.5)])[0]
    assert events_by_read == events_by_datagram
    assert [len(frame) for frame in by_read.frames] == [320, 480, 160 * (len(audio) - 4)]
    assert np.array_equal(np.concatenate(by_read.frames), np.concatenate(by_datagram.frames))
    assert by_read.events == by_datagram.events
    assert len(by_read.events) == len(star_press())


def odd_datagrams(rng: random.Random) -> list[bytes]:
    """What a trunk may send among the audio: not RTP, too short, events, comfort noise,
    the other law, a packet with extension and padding, empty."""
    extended = RtpPacket(
        8, 7, 0, 1234, bytes(range(80)), extension=RtpExtension(0xBEDE, bytes(4)), padding=4
    ).serialize()
    choices = [b"", b"\x80", b"not rtp at all", RtpPacket(13, 1, 1, 1, b"\x40").serialize()]
    choices += [star_press()[rng.randrange(10)], extended, audio_packets(tone(0.02), 0)[0]]
    return [rng.choice(choices)]


@pytest.mark.parametrize("seed", range(18))
def test_many_calls_heard_at_once_hear_what_each_would_alone(seed: int) -> None:
    # hear_all looks at the datagrams of all calls in one numpy pass: equal packets (even
    # seeds), other packet times, both laws, and calls with odd datagrams among them (seeds
    # not divisible by 3) must each give what the call taken datagram by datagram gives.
    rng = random.Random(seed)
    formats = [PCMA_101, InboundFormat("PCMU", 0, 101), InboundFormat("PCMA", 8)]
    calls = []
    for _ in range(rng.randrange(1, 8)):
        media_format = rng.choice(formats)
        law = media_format.payload_type
        ptime = rng.choice((0.02, 0.03, 0.01, 0.04)) if seed % 2 else 0.02
        pcm = tone(ptime * rng.randrange(1, 8), frequency=rng.randrange(300, 3000))
        size = round(ptime * 8000)
        coded = pcm_to_alaw(pcm) if law == 8 else pcm_to_ulaw(pcm)
        datagrams = [
            RtpPacket(law, n, size * n, 99, coded[size * n : size * (n + 1)]).serialize()
            for n in range(len(coded) // size)
        ]
        for _ in range(rng.choice((0, 1, 2)) if seed % 3 else 0):
            datagrams.insert(rng.randrange(len(datagrams) + 1), *odd_datagrams(rng))
        calls.append((media_format, datagrams))
    together = [(InboundMedia(f, [Recorder(), KeyPressListener()]), 0.5) for f, _ in calls]
    heard = hear_all(together, Datagrams.of([datagrams for _, datagrams in calls]))
    for (media_format, datagrams), (media, _), events in zip(calls, together, heard, strict=True):
        alone = InboundMedia(media_format, [Recorder(), KeyPressListener()])
        expected: list[MediaEvent] = []
        for datagram in datagrams:
            with contextlib.suppress(ValueError):
                expected += alone.packet(datagram, 0.5)
        expected += hear_all([(alone, 0.5)])[0]
        assert events == expected
        recorded, alone_recorded = media.listeners[0], alone.listeners[0]
        assert isinstance(recorded, Recorder) and isinstance(alone_recorded, Recorder)
        assert [f.tolist() for f in recorded.frames] == [f.tolist() for f in alone_recorded.frames]
        assert recorded.events == alone_recorded.events
        assert media._payloads == []


@pytest.mark.parametrize(
    "media_format", [PCMA_101, InboundFormat("PCMA", 8)], ids=["events", "none"]
)
def test_key_tones_in_the_audio_are_keys(media_format: InboundFormat) -> None:
    # Whether or not the answer took telephone-events: a trunk may take them and send tones.
    media = InboundMedia(media_format, [KeyPressListener()])
    signal = np.concatenate(
        [pause(40), key_tone("8", 80), pause(100), key_tone("#", 80), pause(60)]
    )
    pcm = np.clip(signal, -32768, 32767).astype("<i2").tobytes()
    events = [event for packet in audio_packets(pcm) for event in media.received(packet, 0.25)]
    assert events == [
        MediaEvent("key", "8", 0.25, "inband"),
        MediaEvent("key", "#", 0.25, "inband"),
    ]


def key_tones(*keys: str) -> bytes:
    """PCM of `keys` pressed in turn, 80 ms each."""
    signal = np.concatenate([np.concatenate([key_tone(k, 80), pause(100)]) for k in keys])
    return np.clip(np.concatenate([pause(40), signal]), -32768, 32767).astype("<i2").tobytes()


async def test_the_receiver_reads_many_calls_and_reports_each_its_own_keys(
    udp: Callable[[], socket.socket],
) -> None:
    # The receiver reads every socket each tick and the key detectors hear all the calls'
    # audio at once: each call must get its own keys, and only them.
    receiver = RtpReceiver(asyncio.get_running_loop())
    callee = udp()
    sent = {
        "inband": audio_packets(key_tones("8", "#")),
        "rfc4733": [*audio_packets(tone(0.1)), *star_press()],
        "tone": [b"not rtp", *audio_packets(tone(0.3))],
        "inband again": audio_packets(key_tones("1", "1", "D")),
    }
    events: asyncio.Queue[tuple[str, MediaEvent]] = asyncio.Queue()

    def report_to(name: str) -> Callable[[MediaEvent], None]:
        return lambda event: events.put_nowait((name, event))

    for name, datagrams in sent.items():
        sock = udp()
        receiver.listen(sock, InboundMedia(PCMA_101, [KeyPressListener()]), report_to(name))
        for datagram in datagrams:
            callee.sendto(datagram, sock.getsockname())
    heard: dict[str, list[tuple[str, str]]] = {name: [] for name in sent}
    for _ in range(6):
        name, event = await asyncio.wait_for(events.get(), timeout=10)
        heard[name].append((event.value, event.detail))
    await asyncio.sleep(2 * TICK)  # nothing more comes
    assert events.empty()
    assert heard == {
        "inband": [("8", "inband"), ("#", "inband")],
        "rfc4733": [("*", "rfc4733")],
        "tone": [],
        "inband again": [("1", "inband"), ("1", "inband"), ("D", "inband")],
    }
    assert receiver.listening == 4
    receiver.close()
    assert receiver.listening == 0


def test_tones_are_not_listened_for_once_telephone_events_come() -> None:
    media = InboundMedia(PCMA_101, [KeyPressListener()])
    tones = audio_packets(key_tones("8"))
    assert [event for packet in tones for event in media.received(packet, 0.5)] == [
        MediaEvent("key", "8", 0.5, "inband")
    ]
    events = [event for packet in [*star_press(), *tones] for event in media.received(packet, 1.0)]
    assert events == [MediaEvent("key", "*", 1.0, "rfc4733")]


def test_telephone_events_are_ignored_when_the_answer_did_not_take_them() -> None:
    media = InboundMedia(InboundFormat("PCMA", 8), [KeyPressListener()])
    assert [media.received(packet, 0.0) for packet in star_press()] == [[]] * 10


def test_what_is_not_rtp_is_refused() -> None:
    media = InboundMedia(PCMA_101, [KeyPressListener()])
    with pytest.raises(ValueError, match=r"^RTP packet is 3 bytes"):
        media.received(b"\x80\x08\x00", 0.0)
    with pytest.raises(ValueError, match=r"^telephone-event payload is 1 bytes"):
        media.received(RtpPacket(101, 1, 1, 1, b"\x01").serialize(), 0.0)


def test_formats_and_events_cross_as_json() -> None:
    assert InboundFormat.from_json(PCMA_101.to_json()) == PCMA_101
    event = MediaEvent("key", "#", 2.5, "inband")
    assert MediaEvent.from_json(event.to_json()) == event
    with pytest.raises(ValueError, match=r"^cannot decode G722: only PCMU and PCMA$"):
        InboundFormat("G722", 9)


def test_unknown_listeners_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^unknown media listener 'radio' \(known: keys"):
        build_listeners({"keys": {}, "radio": {}})


@pytest.fixture
async def media() -> AsyncIterator[MediaProcess]:
    media = MediaProcess()
    await media.start()
    yield media
    media.close()


async def test_the_media_process_listens_and_reports_keys(
    media: MediaProcess, udp: Callable[[], socket.socket]
) -> None:
    call_socket, callee = udp(), udp()
    events: asyncio.Queue[MediaEvent] = asyncio.Queue()
    handle = media.listen(call_socket, PCMA_101, {"keys": {}}, events.put_nowait)
    address = call_socket.getsockname()
    for datagram in [b"not rtp", *audio_packets(tone(0.1)), *star_press()]:
        callee.sendto(datagram, address)  # a few datagrams on loopback: never blocks
    event = await asyncio.wait_for(events.get(), timeout=10)
    assert (event.kind, event.value, event.detail) == ("key", "*", "rfc4733")
    assert event.at >= 0

    media.unlisten(handle)
    for datagram in star_press():  # a second press (a new timestamp), which nobody reads
        callee.sendto(datagram[:4] + b"\xff\xff\xff\xff" + datagram[8:], address)
    await asyncio.sleep(0.2)
    assert events.empty()


async def test_unknown_listeners_are_refused_before_the_child_sees_them(
    media: MediaProcess, udp: Callable[[], socket.socket]
) -> None:
    with pytest.raises(ValueError, match=r"^unknown media listener 'radio'"):
        media.listen(udp(), PCMA_101, {"radio": {}}, print)
