"""SDP parsing, the offer we send and the answer negotiation.

Fixtures: `sdp_baresip_*` and `sdp_sipp_answer.sdp` are the bodies of 200 OK answers captured
on loopback from baresip 1.0.0 and SIPp 3.6.1 (uas_answer.xml). The Asterisk, FreeSWITCH and
gateway answers are written after the answers those products send (documentation addresses).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voxcall.dialers.sip.message import parse_message
from voxcall.dialers.sip.sdp import (
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    Attribute,
    Codec,
    Connection,
    MediaTarget,
    NoCommonCodec,
    Origin,
    SessionDescription,
    answer_direction,
    build_offer,
    check_answer_destination,
    codec_by_name,
    negotiate,
    read_reoffer,
)

DATA = Path(__file__).parent / "data"
FIXTURES = sorted(path.name for path in DATA.glob("sdp_*.sdp"))


def load(name: str) -> str:
    return (DATA / name).read_bytes().decode()


def sdp(*lines: str) -> str:
    return "".join(line + "\r\n" for line in lines)


HEAD = ("v=0", "o=- 1 1 IN IP4 192.0.2.9", "s=-", "c=IN IP4 192.0.2.9", "t=0 0")


def test_fixtures_are_present() -> None:
    assert len(FIXTURES) == 6


@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_round_trip(name: str) -> None:
    text = load(name)
    assert str(SessionDescription.parse(text)) == text


def test_parse_captured_baresip_answer() -> None:
    session = SessionDescription.parse(load("sdp_baresip_answer_pcmu_pcma.sdp"))
    assert session.origin == Origin("-", 3235718259, 1019953733, "IP4", "127.0.0.1")
    assert session.name == "-"
    assert session.connection == Connection("IP4", "127.0.0.1")
    assert session.times == ["0 0"]
    assert session.attributes == [Attribute("tool", "baresip 1.0.0")]
    [audio] = session.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio",
        25142,
        "RTP/AVP",
        ["0", "8", "101"],
    )
    assert audio.connection is None
    assert audio.codecs() == [PCMU, PCMA, Codec(101, "telephone-event")]
    assert [a.name for a in audio.attributes] == [
        "rtpmap",
        "rtpmap",
        "rtpmap",
        "fmtp",
        "sendrecv",
        "label",
        "ssrc",
        "minptime",
        "ptime",
    ]
    assert audio.attributes[4] == Attribute("sendrecv")
    assert audio.attributes[6] == Attribute("ssrc", "1725028019 cname:sip:callee@127.0.0.1:25080")


@pytest.mark.parametrize(
    ("name", "offered", "expected"),
    [
        # The answer's order decides, not ours.
        (
            "sdp_baresip_answer_pcmu_pcma.sdp",
            [PCMA, PCMU],
            MediaTarget("127.0.0.1", 25142, PCMU, event_payload_type=101),
        ),
        (
            "sdp_baresip_answer_pcmu_pcma.sdp",
            [PCMA],
            MediaTarget("127.0.0.1", 25142, PCMA, event_payload_type=101),
        ),
        (
            "sdp_baresip_answer_pcma.sdp",
            [PCMU, PCMA],
            MediaTarget("127.0.0.1", 25176, PCMA, event_payload_type=101),
        ),
        # SIPp's answer takes no telephone-events.
        ("sdp_sipp_answer.sdp", [PCMU, PCMA], MediaTarget("127.0.0.1", 25000, PCMU)),
        (
            "sdp_asterisk_answer.sdp",
            [PCMU, PCMA],
            MediaTarget("203.0.113.10", 14838, PCMA, event_payload_type=101),
        ),
        (
            "sdp_freeswitch_answer.sdp",
            [PCMU],
            MediaTarget("198.51.100.7", 21578, PCMU, event_payload_type=101),
        ),
        # The media-level c= wins over the session-level one.
        (
            "sdp_gateway_media_level_c.sdp",
            [PCMA],
            MediaTarget("192.0.2.50", 16384, PCMA, event_payload_type=101),
        ),
    ],
)
def test_negotiate_fixtures(name: str, offered: list[Codec], expected: MediaTarget) -> None:
    assert negotiate(load(name), offered) == expected


@pytest.mark.parametrize(
    ("name", "offered", "message"),
    [
        (
            "sdp_freeswitch_answer.sdp",
            [PCMA],
            "the answer's payload types 0 101 match none of PCMA",
        ),
        ("sdp_sipp_answer.sdp", [PCMA], "the answer's payload types 0 match none of PCMA"),
        ("sdp_asterisk_answer.sdp", [PCMU], "the answer's payload types 8 101 match none of PCMU"),
    ],
)
def test_negotiate_no_common_codec(name: str, offered: list[Codec], message: str) -> None:
    with pytest.raises(NoCommonCodec) as info:
        negotiate(load(name), offered)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_static_payload_types_need_no_rtpmap() -> None:
    answer = sdp(*HEAD, "m=audio 4000 RTP/AVP 8 0")
    assert negotiate(answer, [PCMU, PCMA]) == MediaTarget("192.0.2.9", 4000, PCMA)


def test_dynamic_payload_type_is_matched_by_rtpmap_name() -> None:
    answer = sdp(*HEAD, "m=audio 4000 RTP/AVP 96 0", "a=rtpmap:96 pcma/8000/1")
    assert negotiate(answer, [PCMU, PCMA]) == MediaTarget("192.0.2.9", 4000, Codec(96, "PCMA"))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # The answer's own payload type for telephone-events, whatever ours was (101).
        (("m=audio 4000 RTP/AVP 8 96", "a=rtpmap:96 telephone-event/8000"), 96),
        # Events at another clock rate are not the ones we offered.
        (("m=audio 4000 RTP/AVP 8 97", "a=rtpmap:97 telephone-event/16000"), None),
        (("m=audio 4000 RTP/AVP 8",), None),
    ],
)
def test_negotiate_reads_the_answers_telephone_event_payload_type(
    lines: tuple[str, ...], expected: int | None
) -> None:
    assert negotiate(sdp(*HEAD, *lines), [PCMA]).event_payload_type == expected


def test_rtpmap_overrides_static_meaning_and_clock_rate_must_match() -> None:
    answer = sdp(*HEAD, "m=audio 4000 RTP/AVP 0 8", "a=rtpmap:0 PCMU/16000")
    assert negotiate(answer, [PCMU, PCMA]).codec == PCMA


def test_unknown_payload_types_and_telephone_event_are_skipped() -> None:
    answer = sdp(
        *HEAD,
        "m=audio 4000 RTP/AVP 101 18 97 0",
        "a=rtpmap:101 telephone-event/8000",
        "a=rtpmap:97 opus/48000/2",
    )
    assert negotiate(answer, [PCMU, TELEPHONE_EVENT]).codec == PCMU
    only_events = sdp(*HEAD, "m=audio 4000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000")
    with pytest.raises(NoCommonCodec, match="payload types 101 match none of"):
        negotiate(only_events, [PCMU, TELEPHONE_EVENT])


def test_first_active_audio_stream_is_used() -> None:
    answer = sdp(
        *HEAD,
        "m=video 0 RTP/AVP 96",
        "m=audio 0 RTP/AVP 0",
        "m=audio 5000 RTP/AVP 8",
        "c=IN IP6 2001:db8::5",
    )
    assert negotiate(answer, [PCMU, PCMA]) == MediaTarget("2001:db8::5", 5000, PCMA)


def test_rejected_audio_stream_is_no_common_codec() -> None:
    answer = sdp(*HEAD, "m=audio 0 RTP/AVP 0")
    with pytest.raises(NoCommonCodec) as info:
        negotiate(answer, [PCMU])
    assert str(info.value) == "the answer has no audio stream with a port other than 0"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ("m=audio 4000 RTP/SAVP 0",),
            "the answer's audio stream uses RTP/SAVP, expected RTP/AVP",
        ),
        (
            ("m=audio 4000 RTP/AVP 0", "c=IN IP4 media.example.net"),
            "the answer's media address 'media.example.net' is not an IP address",
        ),
        (
            ("m=audio 4000 RTP/AVP 0", "c=IN IP4 0.0.0.0"),
            "the answer's media address 0.0.0.0 means on hold, not a destination",
        ),
    ],
)
def test_negotiate_rejects_unusable_streams(lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError) as info:
        negotiate(sdp(*HEAD, *lines), [PCMU])
    assert str(info.value) == message
    assert not isinstance(info.value, NoCommonCodec)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("255.255.255.255", "the answer's media address 255.255.255.255 is not one host"),
        ("239.1.2.3", "the answer's media address 239.1.2.3 is not one host"),
        ("ff02::1", "the answer's media address ff02::1 is IPv6, our RTP socket is IPv4"),
        ("::1", "the answer's media address ::1 is IPv6, our RTP socket is IPv4"),
    ],
)
def test_an_answer_must_point_our_audio_at_one_host_we_can_reach(
    address: str, message: str
) -> None:
    version = "IP6" if ":" in address else "IP4"
    target = negotiate(sdp(*HEAD, "m=audio 4000 RTP/AVP 0", f"c=IN {version} {address}"), [PCMU])
    with pytest.raises(ValueError) as info:
        check_answer_destination(target, 4)
    assert str(info.value) == message


def test_a_unicast_answer_of_our_ip_version_is_usable() -> None:
    check_answer_destination(negotiate(load("sdp_sipp_answer.sdp"), [PCMU]), 4)
    check_answer_destination(MediaTarget("2001:db8::5", 5000, PCMA), 6)
    with pytest.raises(ValueError, match="is IPv4, our RTP socket is IPv6"):
        check_answer_destination(MediaTarget("192.0.2.9", 5000, PCMA), 6)


def test_build_offer_text() -> None:
    offer = build_offer("192.0.2.33", 40000, [PCMA, PCMU], session_id=7, session_version=2)
    assert offer == sdp(
        "v=0",
        "o=voxcall 7 2 IN IP4 192.0.2.33",
        "s=voxcall",
        "c=IN IP4 192.0.2.33",
        "t=0 0",
        "m=audio 40000 RTP/AVP 8 0 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    )
    assert str(SessionDescription.parse(offer)) == offer


def test_build_offer_ipv6_and_single_codec() -> None:
    offer = SessionDescription.parse(build_offer("2001:db8::1", 30000, [PCMU], session_id=1))
    assert offer.origin == Origin("voxcall", 1, 1, "IP6", "2001:db8::1")
    assert offer.connection == Connection("IP6", "2001:db8::1")
    assert offer.media[0].codecs() == [PCMU, TELEPHONE_EVENT]


@pytest.mark.parametrize(
    ("address", "port", "codecs", "message"),
    [
        ("192.0.2.1", 4000, [], "an offer needs at least one codec"),
        ("192.0.2.1", 4000, [PCMU, PCMU], "payload type 0 is offered twice"),
        ("192.0.2.1", 4000, [TELEPHONE_EVENT], "payload type 101 is offered twice"),
        ("192.0.2.1", 0, [PCMU], "RTP port 0 is not in 1-65535"),
        ("192.0.2.1", 65536, [PCMU], "RTP port 65536 is not in 1-65535"),
        ("pbx.example", 4000, [PCMU], "'pbx.example' is not an IP address"),
    ],
)
def test_build_offer_rejects(address: str, port: int, codecs: list[Codec], message: str) -> None:
    with pytest.raises(ValueError) as info:
        build_offer(address, port, codecs, session_id=1)
    assert str(info.value) == message


def test_build_offer_with_a_direction() -> None:
    answer = build_offer("192.0.2.33", 40000, [PCMU], 7, 3, "recvonly")
    assert SessionDescription.parse(answer).media[0].attributes[-1] == Attribute("recvonly")
    assert "a=sendrecv" not in answer
    with pytest.raises(ValueError, match=r"^'hold' is not an SDP direction$"):
        build_offer("192.0.2.33", 40000, [PCMU], 7, 3, "hold")


def test_build_offer_rejects_negative_session_numbers() -> None:
    for session_id, session_version in ((-1, 1), (1, -1)):
        with pytest.raises(ValueError, match=r"^session id and version must not be negative$"):
            build_offer("192.0.2.1", 4000, [PCMU], session_id, session_version)


def test_codec_by_name() -> None:
    assert codec_by_name("PCMA") is PCMA
    assert codec_by_name("pcmu") is PCMU
    with pytest.raises(ValueError, match=r"^unknown codec 'G729': expected PCMU or PCMA$"):
        codec_by_name("G729")
    with pytest.raises(ValueError, match="unknown codec 'telephone-event'"):
        codec_by_name("telephone-event")


def test_bare_lf_and_dropped_lines_are_accepted() -> None:
    text = "\n".join(
        [
            "v=0",
            "o=- 5 6 IN IP4 192.0.2.1",
            "s=call",
            "i=a description",
            "u=http://example.com/",
            "e=ops@example.com",
            "c=IN IP4 192.0.2.1",
            "t=0 0",
            "r=7d 1h 0 25h",
            "m=audio 4000 RTP/AVP 0",
            "i=voice",
            "k=prompt",
            "a=recvonly",
            "",
            "",
        ]
    )
    session = SessionDescription.parse(text)
    assert str(session) == sdp(
        "v=0",
        "o=- 5 6 IN IP4 192.0.2.1",
        "s=call",
        "i=a description",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0",
        "i=voice",
        "a=recvonly",
    )


def test_port_count_is_kept() -> None:
    session = SessionDescription.parse(sdp(*HEAD, "m=audio 4000/2 RTP/AVP 0"))
    assert (session.media[0].port, session.media[0].port_count) == (4000, 2)
    assert "m=audio 4000/2 RTP/AVP 0\r\n" in str(session)


def test_non_rtp_formats_are_not_payload_types() -> None:
    session = SessionDescription.parse(sdp(*HEAD, "m=application 5060 UDP/BFCP *"))
    assert session.media[0].formats == ["*"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "SDP is empty"),
        ("\r\n\r\n", "SDP is empty"),
        (
            sdp("o=- 1 1 IN IP4 192.0.2.9"),
            "SDP line 1 must be v=, found 'o=- 1 1 IN IP4 192.0.2.9'",
        ),
        (sdp("v=0"), "SDP line 2 must be o=, found the end"),
        (sdp("v=0", "s=-"), "SDP line 2 must be o=, found 's=-'"),
        (
            sdp("v=0", "o=- 1 1 IN IP4 192.0.2.9", "c=IN IP4 192.0.2.9"),
            "SDP line 3 must be s=, found 'c=IN IP4 192.0.2.9'",
        ),
        (sdp("v=1", *HEAD[1:]), "SDP version is '1', expected 0"),
        (sdp(*HEAD), "SDP has no m= line"),
        (sdp(*HEAD[:4], "m=audio 4000 RTP/AVP 0"), "SDP has no t= line"),
        (
            sdp(*HEAD[:3], "t=0 0", "m=audio 4000 RTP/AVP 0"),
            "SDP media section 1 (m=audio) has no c= line and there is no session-level c=",
        ),
        (
            sdp(
                *HEAD[:3],
                "t=0 0",
                "m=audio 4000 RTP/AVP 0",
                "c=IN IP4 192.0.2.1",
                "m=video 0 RTP/AVP 96",
            ),
            "SDP media section 2 (m=video) has no c= line and there is no session-level c=",
        ),
        (sdp(*HEAD, "", "m=audio 4000 RTP/AVP 0"), "SDP line 6 '' is not <type>=<value>"),
        (
            sdp(*HEAD, "m = audio 4000 RTP/AVP 0"),
            "SDP line 6 'm = audio 4000 RTP/AVP 0' is not <type>=<value>",
        ),
        (sdp(*HEAD, "x=1"), "SDP line 6 'x=1' has unknown type 'x'"),
        (sdp(*HEAD, "A=1"), "SDP line 6 'A=1' is not <type>=<value>"),
        (sdp(*HEAD, "s=again"), "SDP line 6 's=again': s= appears twice"),
        (
            sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "t=0 0"),
            "SDP line 7 't=0 0': t= is not allowed after m=",
        ),
        (
            sdp(*HEAD, "c=IN IP4 192.0.2.10"),
            "SDP line 6 'c=IN IP4 192.0.2.10': second session-level c=",
        ),
        (
            sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.1", "c=IN IP4 192.0.2.2"),
            "SDP line 8 'c=IN IP4 192.0.2.2': second c= in one m= section",
        ),
        (
            sdp("v=0", "o=- x 1 IN IP4 192.0.2.9", *HEAD[2:]),
            "SDP line 2 'o=- x 1 IN IP4 192.0.2.9': session id and version must be decimal numbers",
        ),
        (
            sdp("v=0", "o=- 1 1 IN IP4", *HEAD[2:]),
            "SDP line 2 'o=- 1 1 IN IP4': expected 6 fields, got 5",
        ),
        (
            sdp(*HEAD[:3], "c=ATM NSAP 47.0005", "t=0 0", "m=audio 4000 RTP/AVP 0"),
            "SDP line 4 'c=ATM NSAP 47.0005': network type 'ATM' is not IN",
        ),
        (
            sdp(*HEAD[:3], "c=IN IPX 192.0.2.1", "t=0 0", "m=audio 4000 RTP/AVP 0"),
            "SDP line 4 'c=IN IPX 192.0.2.1': address type 'IPX' is not IP4 or IP6",
        ),
        (
            sdp(*HEAD[:3], "c=IN IP4 233.252.0.1/127", "t=0 0", "m=audio 4000 RTP/AVP 0"),
            "SDP line 4 'c=IN IP4 233.252.0.1/127': multicast addresses are not supported",
        ),
        (sdp(*HEAD[:3], "c=IN IP4", "t=0 0"), "SDP line 4 'c=IN IP4': expected 3 fields, got 2"),
        (sdp(*HEAD, "b=AS"), "SDP line 6 'b=AS': expected <bwtype>:<bandwidth>"),
        (sdp(*HEAD, "t=now"), "SDP line 6 't=now': expected <start-time> <stop-time>"),
        (sdp(*HEAD, "a=:x"), "SDP line 6 'a=:x': attribute name '' is not a token"),
        (
            sdp(*HEAD, "m=audio 4000 RTP/AVP"),
            "SDP line 6 'm=audio 4000 RTP/AVP': expected <media> <port> <proto> <fmt> ...",
        ),
        (
            sdp(*HEAD, "m=audio port RTP/AVP 0"),
            "SDP line 6 'm=audio port RTP/AVP 0': port 'port' is not a number 0-65535",
        ),
        (
            sdp(*HEAD, "m=audio 70000 RTP/AVP 0"),
            "SDP line 6 'm=audio 70000 RTP/AVP 0': port '70000' is not a number 0-65535",
        ),
        (
            sdp(*HEAD, "m=audio 4000 RTP/AVP 0 PCMU"),
            "SDP line 6 'm=audio 4000 RTP/AVP 0 PCMU': payload type 'PCMU' is not a number 0-127",
        ),
        (
            sdp(*HEAD, "m=audio 4000 RTP/AVP 128"),
            "SDP line 6 'm=audio 4000 RTP/AVP 128': payload type '128' is not a number 0-127",
        ),
        (
            sdp(*HEAD, "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMA"),
            "SDP line 7 'a=rtpmap:96 PCMA': "
            "expected <payload type> <encoding>/<clock rate>[/<channels>]",
        ),
        (
            sdp(*HEAD, "m=audio 4000 RTP/AVP 96", "a=rtpmap:x PCMA/8000"),
            "SDP line 7 'a=rtpmap:x PCMA/8000': payload type 'x' is not a number 0-127",
        ),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        SessionDescription.parse(text)
    assert str(info.value) == message


def test_negotiate_reports_malformed_answers() -> None:
    with pytest.raises(ValueError, match=r"^SDP line 1 'hello' is not <type>=<value>$"):
        negotiate("hello", [PCMU])


# -- re-INVITE offers: moving the media, hold and resume (RFC 3264 §8) -------------------------


def captured_reoffer() -> str:
    """The SDP of a re-INVITE SIPp sent (uas_reinvite_move.xml), media at 127.0.0.1:59250."""
    reinvite = parse_message((DATA / "sipp" / "move-4-in-INVITE.sip").read_bytes())
    return reinvite.body.decode()


def test_captured_reoffer_moves_the_media() -> None:
    target = read_reoffer(captured_reoffer(), [PCMU])
    assert target == MediaTarget("127.0.0.1", 59250, PCMU, "sendrecv")
    assert target.destination == ("127.0.0.1", 59250)
    assert answer_direction(target.direction) == "sendrecv"


@pytest.mark.parametrize(
    ("change", "direction", "destination", "answer"),
    [
        # Hold as RFC 3264 §8.4 does it: the offerer stops receiving, so we stop sending.
        (("a=sendrecv", "a=sendonly"), "sendonly", None, "recvonly"),
        (("a=sendrecv", "a=inactive"), "inactive", None, "inactive"),
        # The offerer only listens: we send, and say we only send.
        (("a=sendrecv", "a=recvonly"), "recvonly", ("127.0.0.1", 59250), "sendonly"),
        # No direction attribute means sendrecv (RFC 3264 §5.1).
        (("a=sendrecv\r\n", ""), "sendrecv", ("127.0.0.1", 59250), "sendrecv"),
        # RFC 2543 hold: the address 0.0.0.0, whatever the direction.
        (("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"), "sendrecv", None, "sendrecv"),
    ],
)
def test_reoffer_direction(
    change: tuple[str, str], direction: str, destination: tuple[str, int] | None, answer: str
) -> None:
    offer = captured_reoffer()
    assert change[0] in offer
    target = read_reoffer(offer.replace(*change), [PCMU])
    assert target.direction == direction
    assert target.destination == destination
    assert answer_direction(target.direction) == answer


def test_media_level_direction_wins_over_session_level() -> None:
    offer = sdp(*HEAD, "a=sendonly", "m=audio 4000 RTP/AVP 0", "a=sendrecv")
    assert read_reoffer(offer, [PCMU]).direction == "sendrecv"
    held = sdp(*HEAD, "a=inactive", "m=audio 4000 RTP/AVP 0")
    assert read_reoffer(held, [PCMU]).destination is None


def test_hold_then_resume_at_a_new_address() -> None:
    hold = sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=sendonly")
    resume = sdp(
        "v=0",
        "o=- 1 2 IN IP4 192.0.2.9",
        "s=-",
        "c=IN IP4 192.0.2.77",
        "t=0 0",
        "m=audio 4010 RTP/AVP 0",
        "a=sendrecv",
    )
    assert [read_reoffer(offer, [PCMU]).destination for offer in (hold, resume)] == [
        None,
        ("192.0.2.77", 4010),
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("m=audio 4000 RTP/AVP 8",), "the offer's payload types 8 match none of PCMU"),
        (("m=audio 0 RTP/AVP 0",), "the offer has no audio stream with a port other than 0"),
        (
            ("m=audio 4000 RTP/AVP 0", "c=IN IP4 media.example.net"),
            "the offer's media address 'media.example.net' is not an IP address",
        ),
    ],
)
def test_reoffer_rejections(lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError) as info:
        read_reoffer(sdp(*HEAD, *lines), [PCMU])
    assert str(info.value) == message


def test_answer_direction_table() -> None:
    assert {d: answer_direction(d) for d in ("sendrecv", "sendonly", "recvonly", "inactive")} == {
        "sendrecv": "sendrecv",
        "sendonly": "recvonly",
        "recvonly": "sendonly",
        "inactive": "inactive",
    }
    with pytest.raises(ValueError, match=r"^'hold' is not an SDP direction$"):
        answer_direction("hold")
