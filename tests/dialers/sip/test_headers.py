"""SIP header fields: compact forms, list headers, case-insensitive access, edits."""

from __future__ import annotations

from voxcall.dialers.sip.headers import Headers
from voxcall.dialers.sip.message import parse_message


def test_headers_compact_forms_are_normalised() -> None:
    raw = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nf: <sip:b@example.com>;tag=1\r\n"
        b"t: sip:a@example.com\r\ni: cid1\r\nCSeq: 1 OPTIONS\r\nm: <sip:b@h.example.com>\r\n"
        b"c: text/plain\r\nk: timer\r\ns: hi\r\ne: gzip\r\no: dialog\r\nr: <sip:c@example.com>\r\n"
        b"u: talk\r\nl: 0\r\n\r\n"
    )
    headers = parse_message(raw).headers
    assert [name for name, _ in headers] == [
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Type", "Supported",
        "Subject", "Content-Encoding", "Event", "Refer-To", "Allow-Events", "Content-Length",
    ]  # fmt: skip
    assert headers.get("i") == "cid1" and headers.get("CALL-id") == "cid1"


def test_headers_multi_valued_and_case_insensitive() -> None:
    headers = Headers([("Via", "SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2")])
    headers.add("via", "SIP/2.0/TCP c;branch=3")
    headers.add("X-Custom", "a, b")
    assert headers.get("VIA") == "SIP/2.0/UDP a;branch=1"
    assert headers.get_all("Via") == [
        "SIP/2.0/UDP a;branch=1",
        "SIP/2.0/UDP b;branch=2",
        "SIP/2.0/TCP c;branch=3",
    ]
    assert headers.get_all("X-Custom") == ["a, b"]  # not a list header: not split
    assert headers.count("Via") == 2
    assert "v" in headers and "Route" not in headers and 5 not in headers
    assert headers.get("Route") is None and headers.get_all("Route") == []


def test_headers_comma_inside_quotes_or_angle_brackets_does_not_split() -> None:
    headers = Headers(
        [
            ("Contact", '"Doe, John" <sip:john@example.com>;q=0.5, <sip:x@y.com?a=1,2>'),
            ("Route", "<sip:p1.example.com;lr>,<sip:p2.example.com;lr>"),
        ]
    )
    assert headers.get_all("m") == [
        '"Doe, John" <sip:john@example.com>;q=0.5',
        "<sip:x@y.com?a=1,2>",
    ]
    assert headers.get_all("route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]


def test_headers_set_remove_copy_iter() -> None:
    headers = Headers([("To", "a"), ("Via", "v1"), ("Via", "v2"), ("From", "f")])
    headers.set("via", "v3")
    assert list(headers) == [("To", "a"), ("Via", "v3"), ("From", "f")]
    headers.set("Max-Forwards", "70")
    assert list(headers)[-1] == ("Max-Forwards", "70")
    clone = headers.copy()
    clone.remove("to")
    assert "To" in headers and "To" not in clone
    assert len(clone) == 3 and clone != headers
    headers.remove("X-Absent")  # no error
    assert headers == Headers([("to", "a"), ("v", "v3"), ("From", "f"), ("max-forwards", "70")])
