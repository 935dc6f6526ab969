from __future__ import annotations

from pathlib import Path

import pytest

from tests.peers.pcap import udp_payloads
from voxcall.dialers.sip.rtp import RtpPacket
from voxcall.dialers.sip.telephone_event import KeyPressEvents, TelephoneEvent

DATA = Path(__file__).parent / "data"


def packets(name: str) -> list[RtpPacket]:
    """The RTP packets of one of the telephone-event captures SIPp ships (sip-tester)."""
    return [RtpPacket.parse(payload) for _, payload in udp_payloads(DATA / name)]


def test_parse_a_captured_press() -> None:
    press = packets("dtmf_2833_1.pcap")
    events = [TelephoneEvent.parse(packet.payload) for packet in press]
    assert [packet.payload_type for packet in press] == [101] * 10
    assert events[0] == TelephoneEvent(event=1, end=False, volume=10, duration=0)
    assert events[6] == TelephoneEvent(event=1, end=False, volume=10, duration=1920)
    # The end packet, sent three times with the same sequence number.
    assert events[7:] == [TelephoneEvent(event=1, end=True, volume=10, duration=2240)] * 3
    assert len({packet.sequence_number for packet in press[7:]}) == 1
    assert {packet.timestamp for packet in press} == {press[0].timestamp}


@pytest.mark.parametrize(
    ("name", "key"),
    [("dtmf_2833_1.pcap", "1"), ("dtmf_2833_star.pcap", "*"), ("dtmf_2833_pound.pcap", "#")],
)
def test_a_captured_press_counts_once(name: str, key: str) -> None:
    keys = KeyPressEvents()
    found = [
        keys.packet(packet.ssrc, packet.timestamp, TelephoneEvent.parse(packet.payload))
        for packet in packets(name)
    ]
    assert [k for k in found if k is not None] == [key]


def test_round_trip() -> None:
    for packet in packets("dtmf_2833_star.pcap"):
        assert TelephoneEvent.parse(packet.payload).serialize() == packet.payload


def test_a_new_timestamp_is_a_new_press_even_of_the_same_key() -> None:
    keys = KeyPressEvents()
    five = TelephoneEvent(5, end=False, volume=10, duration=160)
    five_end = TelephoneEvent(5, end=True, volume=10, duration=800)
    seen = [
        keys.packet(7, 1000, five),
        keys.packet(7, 1000, five_end),
        keys.packet(7, 1000, five_end),
        keys.packet(7, 9000, five_end),  # its start packets were lost: the end counts
        keys.packet(7, 1000, five_end),  # a late retransmission of the first press
        keys.packet(8, 1000, five),  # another SSRC: the far end restarted its stream
    ]
    assert seen == ["5", None, None, "5", None, "5"]


def test_events_that_are_not_keys() -> None:
    flash = TelephoneEvent(16, end=False, volume=10, duration=160)
    assert flash.key is None
    assert KeyPressEvents().packet(1, 1, flash) is None
    assert TelephoneEvent(15, end=True, volume=0, duration=0).key == "D"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x8a", "telephone-event payload is 2 bytes, shorter than 4"),
        (b"", "telephone-event payload is 0 bytes, shorter than 4"),
    ],
)
def test_parse_refuses_short_payloads(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError) as info:
        TelephoneEvent.parse(payload)
    assert str(info.value) == message


def test_serialize_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match=r"^telephone-event volume 64 is not in 0-63$"):
        TelephoneEvent(1, end=False, volume=64, duration=0).serialize()
    with pytest.raises(ValueError, match=r"^telephone-event duration 65536 does not fit"):
        TelephoneEvent(1, end=False, volume=1, duration=65536).serialize()
