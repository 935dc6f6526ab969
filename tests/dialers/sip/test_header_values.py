"""Header values: name-addr and addr-spec, Via, CSeq; exact errors."""

from __future__ import annotations

import pytest

from voxcall.dialers.sip.header_values import NameAddress, Via, parse_cseq


def test_name_address_forms() -> None:
    quoted = NameAddress.parse('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com> ; tag = 98asjd8')
    assert quoted.display_name == 'J Rosenberg \\"'
    assert quoted.tag == "98asjd8"
    assert str(quoted) == '"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8'
    assert NameAddress.parse(str(quoted)) == quoted

    tokens = NameAddress.parse("Bob  Smith<sip:bob@biloxi.com>;TAG=x;lr")
    assert tokens.display_name == "Bob  Smith"
    assert tokens.params == {"tag": "x", "lr": None}

    # addr-spec: parameters after the URI belong to the header, not to the URI
    spec = NameAddress.parse("sip:+19725552222@gw1.example.net;unknownparam;tag=7")
    assert spec.uri.params == {}
    assert spec.params == {"unknownparam": None, "tag": "7"}
    assert str(spec) == "<sip:+19725552222@gw1.example.net>;unknownparam;tag=7"

    inner = NameAddress.parse("<sip:+19725552222@gw1.example.net;unknownparam>")
    assert inner.uri.params == {"unknownparam": None} and inner.params == {}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('"Mr. J. User <sip:j.user@example.com>', "unterminated quoted string in"),
        (
            "Bell, Alexander <sip:a@example.com>",
            "invalid display name 'Bell, Alexander' (quote it)",
        ),
        ('"Watson" < sip:t@example.org >', "invalid URI ' sip:t@example.org '"),
        ("<sip:a@example.com", "missing '>' after the URI"),
        ('"Joe" sip:joe@example.org', "quoted display name is not followed by <URI>"),
        ("<sip:a@example.com>;;", "address: empty parameter in ';;'"),
        ("<sip:a@example.com>;tag=", "address: parameter 'tag' has no value after '='"),
        ("<sip:a@example.com> junk", "address: expected ';' before parameters, got 'junk'"),
        ("sip:a@example.com?x=1", "a URI containing '?' or ',' must be inside <>"),
        ("<tel:+98912>", "unsupported URI scheme 'tel' (only sip and sips)"),
        ("", "empty address"),
    ],
)
def test_name_address_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        NameAddress.parse(text)
    assert str(excinfo.value).startswith(error)


def test_via_parse_and_format() -> None:
    via = Via.parse(
        "SIP  /   2.0 /udp   192.0.2.2 : 5062 ; Branch = z9hG4bK9 ;rport=5062;received=x"
    )
    assert via == Via(
        "UDP", "192.0.2.2", 5062, {"branch": "z9hG4bK9", "rport": "5062", "received": "x"}
    )
    assert (via.branch, via.rport, via.received) == ("z9hG4bK9", 5062, "x")
    assert str(via) == "SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK9;rport=5062;received=x"
    v6 = Via.parse("SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKa;maddr=[2001:db8::1]")
    assert (v6.host, v6.port, v6.params["maddr"]) == ("2001:db8::9", 5070, "[2001:db8::1]")
    assert str(v6) == "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKa;maddr=[2001:db8::1]"
    assert Via.parse(str(v6)) == v6


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("SIP/2.0/UDP", "malformed Via 'SIP/2.0/UDP'"),
        ("SIP/3.0/UDP host", "unsupported protocol SIP/3.0 in Via"),
        ("SIP/2.0/UDP host:port", "invalid port 'port' in Via"),
        ("SIP/2.0/UDP 192.0.2.15;;,;", "Via: empty parameter in ';;,;'"),
        ("SIP/2.0/UDP h;branch", "unexpected"),
    ],
)
def test_via_errors(text: str, error: str) -> None:
    if error == "unexpected":
        assert Via.parse(text).params == {"branch": None}  # a flag parameter is fine
        return
    with pytest.raises(ValueError) as excinfo:
        Via.parse(text)
    assert str(excinfo.value) == error


def test_parse_cseq() -> None:
    assert parse_cseq("0009  INVITE") == (9, "INVITE")
    assert parse_cseq("2147483647 BYE") == (2**31 - 1, "BYE")
    for bad, error in [
        ("INVITE", "malformed CSeq 'INVITE'"),
        ("1", "malformed CSeq '1'"),
        ("-1 INVITE", "malformed CSeq '-1 INVITE'"),
        ("2147483648 INVITE", "CSeq number '2147483648' is not below 2**31"),
    ]:
        with pytest.raises(ValueError) as excinfo:
            parse_cseq(bad)
        assert str(excinfo.value) == error
