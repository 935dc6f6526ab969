"""RTP packets: captured baresip packets, hand-built edge cases, exact rejection messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcall.dialers.sip.rtp import (
    RtpExtension,
    RtpPacket,
    pack_header,
    uint16_add,
    uint32_add,
)

DATA = Path(__file__).parent / "data"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


# Captured on loopback from baresip 1.0.0 (Debian 12) answering a call from a test UAC:
# the first packet of its stream (marker set, silence before the echo starts) and a later
# one carrying the echoed 440 Hz tone.
def test_parse_captured_pcmu_first_packet() -> None:
    packet = RtpPacket.parse(load("rtp_baresip_pcmu_marker.bin"))
    assert packet == RtpPacket(
        payload_type=0,
        sequence_number=21343,
        timestamp=36623,
        ssrc=0x66D1D6B3,
        payload=b"\xff" * 160,
        marker=True,
    )


def test_parse_captured_pcma_first_packet() -> None:
    packet = RtpPacket.parse(load("rtp_baresip_pcma_marker.bin"))
    assert (packet.payload_type, packet.sequence_number, packet.timestamp, packet.ssrc) == (
        8,
        6439,
        10288,
        0x01C4DCC8,
    )
    assert packet.marker is True
    assert packet.payload == b"\xd5" * 160


@pytest.mark.parametrize(
    ("name", "payload_type", "sequence_number", "timestamp", "payload_start"),
    [
        ("rtp_baresip_pcmu_voice.bin", 0, 21402, 46063, "adbd5c362a232020"),
        ("rtp_baresip_pcma_voice.bin", 8, 6498, 19728, "87944a1d000e0b0b"),
    ],
)
def test_parse_captured_voice_packets(
    name: str, payload_type: int, sequence_number: int, timestamp: int, payload_start: str
) -> None:
    packet = RtpPacket.parse(load(name))
    assert packet.payload_type == payload_type
    assert packet.sequence_number == sequence_number
    assert packet.timestamp == timestamp
    assert packet.marker is False
    assert len(packet.payload) == 160
    assert packet.payload.startswith(bytes.fromhex(payload_start))
    assert (packet.csrc, packet.extension, packet.padding) == ([], None, 0)


@pytest.mark.parametrize(
    "name",
    [
        "rtp_baresip_pcmu_marker.bin",
        "rtp_baresip_pcmu_voice.bin",
        "rtp_baresip_pcma_marker.bin",
        "rtp_baresip_pcma_voice.bin",
    ],
)
def test_captured_packets_round_trip(name: str) -> None:
    data = load(name)
    assert RtpPacket.parse(data).serialize() == data


# A hand-built packet with every optional part (RFC 3550 section 5.1):
#   b3            V=2, P=1, X=1, CC=3
#   e0            M=1, PT=96
#   ffff          sequence number 65535
#   fffffff0      timestamp
#   deadbeef      SSRC
#   00000001 00000002 00000003                 three CSRC
#   bede 0002 10ff2233 44000000                extension: profile 0xBEDE, two words
#   cafe                                       payload
#   000000 04                                  padding: four octets, count last
FULL = bytes.fromhex(
    "b3e0fffffffffff0deadbeef000000010000000200000003bede000210ff223344000000cafe00000004"
)


def test_parse_csrc_extension_and_padding() -> None:
    assert RtpPacket.parse(FULL) == RtpPacket(
        payload_type=96,
        sequence_number=0xFFFF,
        timestamp=0xFFFFFFF0,
        ssrc=0xDEADBEEF,
        payload=b"\xca\xfe",
        marker=True,
        csrc=[1, 2, 3],
        extension=RtpExtension(0xBEDE, bytes.fromhex("10ff223344000000")),
        padding=4,
    )


def test_full_packet_round_trips() -> None:
    assert RtpPacket.parse(FULL).serialize() == FULL


def test_empty_extension_and_empty_payload() -> None:
    data = bytes.fromhex("9000000100000002000000031234 0000".replace(" ", ""))
    packet = RtpPacket.parse(data)
    assert packet.extension == RtpExtension(0x1234, b"")
    assert packet.payload == b""
    assert packet.serialize() == data


def test_padding_may_fill_everything_after_the_header() -> None:
    data = bytes.fromhex("a0000001000000020000000300000004")
    packet = RtpPacket.parse(data)
    assert (packet.payload, packet.padding) == (b"", 4)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTP packet is 0 bytes, shorter than the 12-byte header"),
        (bytes(11), "RTP packet is 11 bytes, shorter than the 12-byte header"),
        (bytes.fromhex("40000001000000020000000301"), "RTP version is 1, expected 2"),
        (bytes.fromhex("000000010000000200000003"), "RTP version is 0, expected 2"),
        (
            bytes.fromhex("830000010000000200000003" + "00000001" * 2 + "0000"),
            "RTP packet announces 3 CSRC but has only 10 bytes after the fixed header",
        ),
        (
            bytes.fromhex("900000010000000200000003bede"),
            "RTP header extension is truncated before its length field",
        ),
        (
            bytes.fromhex("900000010000000200000003bede000210ff2233"),
            "RTP header extension announces 8 bytes but only 4 follow",
        ),
        (
            bytes.fromhex("a00000010000000200000003cafe00"),
            "RTP padding count 0 is invalid with 3 bytes after the header",
        ),
        (
            bytes.fromhex("a00000010000000200000003cafe05"),
            "RTP padding count 5 is invalid with 3 bytes after the header",
        ),
        (
            bytes.fromhex("b00000010000000200000003bede000010"),
            "RTP padding count 16 is invalid with 1 bytes after the header",
        ),
    ],
)
def test_parse_rejects(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as info:
        RtpPacket.parse(data)
    assert str(info.value) == message


def test_parse_rejects_captured_rtcp() -> None:
    # baresip's RTCP APP "PINGPONG" (packet type 204), sent to open NAT pinholes.
    with pytest.raises(ValueError, match=r"^packet type 204 is RTCP, not RTP$"):
        RtpPacket.parse(load("rtp_baresip_rtcp_app.bin"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"payload_type": 128}, "RTP payload_type 128 does not fit in 7 bits"),
        ({"payload_type": -1}, "RTP payload_type -1 does not fit in 7 bits"),
        ({"sequence_number": 65536}, "RTP sequence_number 65536 does not fit in 16 bits"),
        ({"timestamp": 1 << 32}, "RTP timestamp 4294967296 does not fit in 32 bits"),
        ({"ssrc": -5}, "RTP ssrc -5 does not fit in 32 bits"),
        ({"padding": 256}, "RTP padding 256 does not fit in 8 bits"),
        ({"csrc": list(range(16))}, "RTP packet has 16 CSRC, at most 15 fit"),
        ({"csrc": [1 << 32]}, "RTP CSRC 4294967296 does not fit in 32 bits"),
        (
            {"extension": RtpExtension(0x10000)},
            "RTP extension profile 65536 does not fit in 16 bits",
        ),
        (
            {"extension": RtpExtension(0xBEDE, b"abc")},
            "RTP extension data must be whole 32-bit words (at most 65535), got 3 bytes",
        ),
    ],
)
def test_serialize_rejects_out_of_range_fields(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "payload_type": 0,
        "sequence_number": 1,
        "timestamp": 2,
        "ssrc": 3,
        **changes,
    }
    packet = RtpPacket(**fields)  # type: ignore[arg-type]
    with pytest.raises(ValueError) as info:
        packet.serialize()
    assert str(info.value) == message


def test_uint16_add_wraps() -> None:
    assert uint16_add(0, 1) == 1
    assert uint16_add(65535, 1) == 0
    assert uint16_add(65530, 10) == 4
    assert uint16_add(0, -1) == 65535


def test_uint32_add_wraps() -> None:
    assert uint32_add(0, 160) == 160
    assert uint32_add(0xFFFFFF60, 160) == 0
    assert uint32_add(0xFFFFFFFF, 160) == 159
    assert uint32_add(5, -6) == 0xFFFFFFFF


u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)

packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=u16,
    timestamp=u32,
    ssrc=u32,
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrc=st.lists(u32, max_size=15),
    extension=st.none()
    | st.builds(RtpExtension, u16, st.binary(max_size=16).map(lambda b: b + bytes(-len(b) % 4))),
    padding=u8,
).filter(lambda packet: not (packet.marker and 64 <= packet.payload_type <= 95))  # RTCP range


@given(packets)
def test_any_packet_round_trips(packet: RtpPacket) -> None:
    assert RtpPacket.parse(packet.serialize()) == packet


@given(st.integers(0, 127), u16, u32, u32, st.booleans())
def test_pack_header_equals_serialize(
    payload_type: int, sequence_number: int, timestamp: int, ssrc: int, marker: bool
) -> None:
    packet = RtpPacket(payload_type, sequence_number, timestamp, ssrc, marker=marker)
    assert pack_header(payload_type, sequence_number, timestamp, ssrc, marker) == (
        packet.serialize()
    )
