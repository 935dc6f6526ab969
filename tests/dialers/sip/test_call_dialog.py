"""Dialogs and the requests a caller builds: route sets, loose and strict routing, ACK, CANCEL."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxcall.dialers.sip.dialog import (
    Dialog,
    InviteTemplate,
    LocalEndpoint,
    cancel_for,
    response_to,
    tag_of,
)
from voxcall.dialers.sip.header_values import Via
from voxcall.dialers.sip.message import SipRequest, SipResponse, parse_message

CAPTURES = Path(__file__).with_name("data") / "sipp"
VIA = "SIP/2.0/UDP 127.0.0.1:5099;rport;branch=z9hG4bKnext"


def load(name: str) -> SipRequest | SipResponse:
    return parse_message((CAPTURES / name).read_bytes())


def invite_and_ok(*record_routes: str) -> tuple[SipRequest, SipResponse]:
    invite, ok = load("auth407-3-out-INVITE.sip"), load("auth407-4-in-200.sip")
    assert isinstance(invite, SipRequest) and isinstance(ok, SipResponse)
    for route in record_routes:
        ok.headers.add("Record-Route", route)
    return invite, ok


def test_dialog_from_a_captured_2xx() -> None:
    invite, ok = invite_and_ok()
    dialog = Dialog.from_2xx(invite, ok)
    assert dialog.call_id == invite.call_id
    assert dialog.local_tag == tag_of(invite.headers.get("From") or "")
    assert dialog.remote_tag == tag_of(ok.headers.get("To") or "")
    assert str(dialog.remote_target).startswith("sip:uas@127.0.0.1:")
    assert dialog.route_set == ()
    assert dialog.local_cseq == 2  # the authenticated INVITE was CSeq 2


def test_bye_without_route_set_goes_to_the_contact() -> None:
    dialog = Dialog.from_2xx(*invite_and_ok())
    bye, destination = dialog.request("BYE", VIA)
    assert bye.uri == str(dialog.remote_target)
    assert "Route" not in bye.headers
    assert destination == (dialog.remote_target.host, dialog.remote_target.port)
    assert bye.cseq == (3, "BYE")
    assert dialog.request("BYE", VIA)[0].cseq == (4, "BYE")


def test_loose_routing_through_the_record_route() -> None:
    # A 2xx lists the proxies callee-first; we send through them in the reverse order.
    dialog = Dialog.from_2xx(*invite_and_ok("<sip:10.0.0.2:5080;lr>, <sip:10.0.0.1:5070;lr>"))
    assert dialog.route_set == ("<sip:10.0.0.1:5070;lr>", "<sip:10.0.0.2:5080;lr>")
    bye, destination = dialog.request("BYE", VIA)
    assert bye.uri == str(dialog.remote_target)
    assert bye.headers.get_all("Route") == ["<sip:10.0.0.1:5070;lr>", "<sip:10.0.0.2:5080;lr>"]
    assert destination == ("10.0.0.1", 5070)


def test_strict_routing_puts_the_first_route_in_the_request_uri() -> None:
    dialog = Dialog.from_2xx(*invite_and_ok("<sip:10.0.0.2:5080;lr>", "<sip:10.0.0.1:5070>"))
    bye, destination = dialog.request("BYE", VIA)
    assert bye.uri == "sip:10.0.0.1:5070"
    assert bye.headers.get_all("Route") == [
        "<sip:10.0.0.2:5080;lr>",
        f"<{dialog.remote_target}>",
    ]
    assert destination == ("10.0.0.1", 5070)


def test_ack_for_2xx_is_a_new_transaction_with_the_invite_cseq_and_credentials() -> None:
    invite, ok = invite_and_ok("<sip:10.0.0.1:5070;lr>")
    dialog = Dialog.from_2xx(invite, ok)
    ack, destination = dialog.ack(invite, VIA)
    assert ack.cseq == (2, "ACK")
    assert Via.parse(ack.headers.get("Via") or "").branch == "z9hG4bKnext"
    assert ack.headers.get("Proxy-Authorization") == invite.headers.get("Proxy-Authorization")
    assert ack.headers.get_all("Route") == ["<sip:10.0.0.1:5070;lr>"]
    assert destination == ("10.0.0.1", 5070)
    assert dialog.local_cseq == 2  # an ACK takes no new CSeq


def test_captured_ack_and_bye_match_what_the_dialog_builds() -> None:
    invite, ok = invite_and_ok()
    dialog = Dialog.from_2xx(invite, ok)
    sent_ack, sent_bye = load("auth407-5-out-ACK.sip"), load("auth407-6-out-BYE.sip")
    assert isinstance(sent_ack, SipRequest) and isinstance(sent_bye, SipRequest)
    ack, _ = dialog.ack(invite, sent_ack.headers.get("Via") or "")
    bye, _ = dialog.request("BYE", sent_bye.headers.get("Via") or "")
    assert ack.serialize() == sent_ack.serialize()
    assert bye.serialize() == sent_bye.serialize()


def test_requests_inside_the_dialog_are_matched_by_call_id_and_tags() -> None:
    reinvite = load("reinvite-4-in-INVITE.sip")
    invite, ok = load("reinvite-0-out-INVITE.sip"), load("reinvite-2-in-200.sip")
    assert isinstance(reinvite, SipRequest)
    assert isinstance(invite, SipRequest) and isinstance(ok, SipResponse)
    dialog = Dialog.from_2xx(invite, ok)
    assert dialog.matches(reinvite)
    assert dialog.accept_remote_cseq(reinvite)
    assert not dialog.accept_remote_cseq(reinvite)  # the same CSeq again: out of order
    reinvite.headers.set("From", (reinvite.headers.get("From") or "") + "x")
    assert not dialog.matches(reinvite)


def test_a_malformed_record_route_is_refused() -> None:
    with pytest.raises(ValueError):
        Dialog.from_2xx(*invite_and_ok("<sip:10.0.0.1:5070;lr"))


def test_cancel_copies_the_invite() -> None:
    invite = load("busy-0-out-INVITE.sip")
    assert isinstance(invite, SipRequest)
    invite.headers.add("Route", "<sip:10.0.0.1;lr>")
    cancel = cancel_for(invite)
    assert (cancel.method, cancel.uri) == ("CANCEL", invite.uri)
    assert cancel.headers.get_all("Via") == invite.headers.get_all("Via")[:1]
    for name in ("From", "To", "Call-ID"):
        assert cancel.headers.get(name) == invite.headers.get(name)
    assert cancel.cseq == (1, "CANCEL")
    assert cancel.headers.get_all("Route") == ["<sip:10.0.0.1;lr>"]


def test_response_to_adds_a_to_tag_only_when_missing() -> None:
    options = load("reinvite-7-in-OPTIONS.sip")
    assert isinstance(options, SipRequest)
    ok = response_to(options, 200, "OK", to_tag="new")
    assert ok.headers.get("To") == options.headers.get("To")  # in-dialog: it has one
    invite = load("busy-0-out-INVITE.sip")
    assert isinstance(invite, SipRequest)
    decline = response_to(invite, 603, "Decline", to_tag="t1")
    assert tag_of(decline.headers.get("To") or "") == "t1"
    assert decline.headers.get_all("Via") == invite.headers.get_all("Via")
    assert decline.cseq == invite.cseq


def test_invite_template_rebuilds_with_credentials() -> None:
    template = InviteTemplate(
        request_uri="sip:0912@127.0.0.1:5062",
        from_address="<sip:voxcall@127.0.0.1>;tag=a",
        to_address="<sip:0912@127.0.0.1:5062>",
        call_id="c1",
        contact="<sip:voxcall@127.0.0.1:5099>",
        sdp=b"v=0\r\n",
    )
    first = template.build(VIA, 1, {})
    second = template.build(VIA, 2, {"Proxy-Authorization": "Digest x"})
    assert first.cseq == (1, "INVITE") and second.cseq == (2, "INVITE")
    assert "Proxy-Authorization" not in first.headers
    assert second.headers.get("Proxy-Authorization") == "Digest x"
    assert parse_message(second.serialize()).headers.get("Content-Type") == "application/sdp"


def test_local_endpoint() -> None:
    udp, tcp = LocalEndpoint("UDP", "10.1.1.1", 5099), LocalEndpoint("TCP", "10.1.1.1", 40000)
    assert udp.contact("alice") == "<sip:alice@10.1.1.1:5099>"
    assert tcp.contact("alice") == "<sip:alice@10.1.1.1:40000;transport=tcp>"
    first, second = Via.parse(udp.via()), Via.parse(udp.via())
    assert first.branch != second.branch
    assert (first.branch or "").startswith("z9hG4bK")
    assert "rport" in first.params
