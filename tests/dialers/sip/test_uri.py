"""SIP URIs: every part parsed, written back as written, exact errors."""

from __future__ import annotations

import pytest

from voxcall.dialers.sip.uri import SipUri


def test_sip_uri_full() -> None:
    uri = SipUri.parse("sips:alice:secret@[2001:db8::10]:5071;transport=tcp;lr?Subject=hi&X=1")
    assert uri == SipUri(
        "sips",
        "alice",
        "secret",
        "2001:db8::10",
        5071,
        {"transport": "tcp", "lr": None},
        {"Subject": "hi", "X": "1"},
    )
    assert str(uri) == "sips:alice:secret@[2001:db8::10]:5071;transport=tcp;lr?Subject=hi&X=1"


@pytest.mark.parametrize(
    "text",
    [
        "sip:09121234567@trunk.example.ir",
        "sip:192.0.2.1:5060",
        "sip:[::1]",
        "sip:+98912@gw.example.net;user=phone",
        "sip:user;par=u%40example.net@example.com",
        "sip:%61lice@atlanta.com;maddr=239.255.255.1;ttl=15",
    ],
)
def test_sip_uri_round_trip(text: str) -> None:
    assert str(SipUri.parse(text)) == text


def test_sip_uri_user_with_semicolon_and_password() -> None:
    uri = SipUri.parse(
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
        "(doesn't-it)@example.com"
    )
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com" and uri.params == {}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("tel:+989121234567", "unsupported URI scheme 'tel' (only sip and sips)"),
        ("example.com", "URI has no scheme: 'example.com'"),
        ("sip:a b@example.com", "whitespace inside URI 'sip:a b@example.com'"),
        ("sip:alice@", "invalid host '' in URI 'sip:alice@'"),
        (
            "sip:alice@example.com:99999",
            "invalid port '99999' in URI 'sip:alice@example.com:99999'",
        ),
        ("sip:alice@example.com:", "invalid port '' in URI 'sip:alice@example.com:'"),
        ("sip:[::1", "unterminated IPv6 reference in URI 'sip:[::1'"),
        ("sip:[zz]:5060", "invalid IPv6 address 'zz' in URI 'sip:[zz]:5060'"),
        ("sip:a@b.com;;lr", "invalid URI parameter ''"),
        ("sip:a@b.com?novalue", "invalid URI header 'novalue'"),
        ("sip:<a>@b.com", "invalid user part '<a>' in URI"),
    ],
)
def test_sip_uri_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        SipUri.parse(text)
    assert str(excinfo.value) == error
