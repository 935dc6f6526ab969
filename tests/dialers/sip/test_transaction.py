"""The transaction layer with captured wire bytes and fake time: timers fire by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from voxcall.dialers.sip.header_values import NameAddress, Via
from voxcall.dialers.sip.message import SipRequest, SipResponse, parse_message
from voxcall.dialers.sip.timers import TimerValues
from voxcall.dialers.sip.transaction import (
    TIMER_B_CAUSE,
    TIMER_F_CAUSE,
    Address,
    ClientTransaction,
    InviteClientTransaction,
    NonInviteClientTransaction,
    State,
    TransactionLayer,
    ack_for_non_2xx,
)
from voxcall.dialers.sip.uri import SipUri

CAPTURES = Path(__file__).with_name("data") / "sipp"
TIMERS = TimerValues()  # T1 0.5 s, T2 4 s, T4 5 s


def wire(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def request(name: str) -> SipRequest:
    message = parse_message(wire(name))
    assert isinstance(message, SipRequest)
    return message


def response(name: str) -> SipResponse:
    message = parse_message(wire(name))
    assert isinstance(message, SipResponse)
    return message


def _address(via_or_uri: Via | SipUri) -> Address:
    return via_or_uri.host, via_or_uri.port or 5060


TRUNK = _address(SipUri.parse(request("busy-0-out-INVITE.sip").uri))
# Where SIPp sent its in-dialog requests from (it puts no rport in its Via).
CALLEE = _address(Via.parse(request("reinvite-7-in-OPTIONS.sip").headers.get("Via") or ""))


def state_of(tx: ClientTransaction) -> State:
    """Read through a call, so mypy does not keep an earlier assert's narrowing."""
    return tx.state


@dataclass
class FakeSender:
    reliable: bool = False
    sent: list[tuple[bytes, Address]] = field(default_factory=list)

    def send(self, data: bytes, destination: Address) -> None:
        self.sent.append((data, destination))


@dataclass
class Recorder:
    """The transaction user: what reached it."""

    responses: list[tuple[int, str | None]] = field(default_factory=list)

    def __call__(self, tx: ClientTransaction, response: SipResponse) -> None:
        self.responses.append((response.status_code, tx.local_failure))


@dataclass
class Harness:
    sender: FakeSender
    layer: TransactionLayer
    user: Recorder

    def invite(self) -> InviteClientTransaction:
        tx = self.layer.send_request(request("busy-0-out-INVITE.sip"), TRUNK, self.user)
        assert isinstance(tx, InviteClientTransaction)
        return tx

    def bye(self) -> NonInviteClientTransaction:
        tx = self.layer.send_request(request("answer-5-out-BYE.sip"), TRUNK, self.user)
        assert isinstance(tx, NonInviteClientTransaction)
        return tx

    def deliver(self, name: str) -> bool:
        return self.layer.response_received(response(name))


@pytest.fixture
async def udp() -> AsyncIterator[Harness]:
    sender = FakeSender()
    layer = TransactionLayer(sender, TIMERS)
    yield Harness(sender, layer, Recorder())
    layer.close()


@pytest.fixture
async def tcp() -> AsyncIterator[Harness]:
    sender = FakeSender(reliable=True)
    layer = TransactionLayer(sender, TIMERS)
    yield Harness(sender, layer, Recorder())
    layer.close()


async def test_invite_is_sent_as_captured_and_timer_a_doubles_without_cap(udp: Harness) -> None:
    tx = udp.invite()
    assert udp.sender.sent == [(wire("busy-0-out-INVITE.sip"), TRUNK)]
    assert tx.state is State.CALLING
    delays = []
    for _ in range(6):
        delays.append(tx.timer_a.delay)
        tx.timer_a.expired()
    # RFC 3261 §17.1.1.2: A doubles each time; T2 caps only non-INVITE retransmissions.
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(udp.sender.sent) == 7
    assert {data for data, _ in udp.sender.sent} == {wire("busy-0-out-INVITE.sip")}
    assert tx.timer_b.running and tx.timer_b.delay == 32.0


async def test_provisional_stops_retransmission_and_timer_b(udp: Harness) -> None:
    tx = udp.invite()
    assert udp.deliver("busy-1-in-100.sip")
    assert tx.state is State.PROCEEDING
    assert not tx.timer_a.running and not tx.timer_b.running
    tx.timer_b.expired()  # even if it fires: Timer B only matters in Calling
    assert tx.state is State.PROCEEDING
    assert udp.deliver("busy-2-in-180.sip")
    assert udp.user.responses == [(100, None), (180, None)]
    assert len(udp.sender.sent) == 1


async def test_timer_b_gives_the_user_a_synthetic_408(udp: Harness) -> None:
    tx = udp.invite()
    tx.timer_a.expired()
    tx.timer_b.expired()
    assert udp.user.responses == [(408, TIMER_B_CAUSE)]
    assert tx.state is State.TERMINATED
    assert not tx.timer_a.running
    assert len(udp.layer) == 0
    assert not udp.deliver("busy-3-in-486.sip")  # nothing left to match


async def test_non_2xx_is_acked_on_the_same_branch_with_the_to_tag(udp: Harness) -> None:
    tx = udp.invite()
    udp.deliver("busy-1-in-100.sip")
    udp.deliver("busy-2-in-180.sip")
    assert udp.deliver("busy-3-in-486.sip")
    assert tx.state is State.COMPLETED
    assert udp.user.responses[-1] == (486, None)
    ack_wire, destination = udp.sender.sent[-1]
    assert (ack_wire, destination) == (wire("busy-4-out-ACK.sip"), TRUNK)  # as SIPp got it
    ack = request("busy-4-out-ACK.sip")
    invite = request("busy-0-out-INVITE.sip")
    busy = response("busy-3-in-486.sip")
    assert ack.uri == invite.uri
    assert (
        Via.parse(ack.headers.get("Via") or "").branch
        == Via.parse(invite.headers.get("Via") or "").branch
    )
    assert ack.headers.get("To") == busy.headers.get("To")
    assert NameAddress.parse(ack.headers.get("To") or "").tag is not None
    assert ack.headers.get("CSeq") == "1 ACK"


async def test_timer_d_absorbs_retransmitted_finals(udp: Harness) -> None:
    tx = udp.invite()
    udp.deliver("busy-3-in-486.sip")
    assert tx.timer_d.running and tx.timer_d.delay == 32.0
    for _ in range(3):
        assert udp.deliver("busy-3-in-486.sip")  # matched and absorbed...
    assert udp.user.responses == [(486, None)]  # ...never passed up again
    assert [data for data, _ in udp.sender.sent[1:]] == [wire("busy-4-out-ACK.sip")] * 4
    tx.timer_d.expired()
    assert tx.state is State.TERMINATED
    assert not udp.deliver("busy-3-in-486.sip")


async def test_2xx_retransmissions_go_up_until_timer_m(udp: Harness) -> None:
    tx = udp.layer.send_request(request("answer-0-out-INVITE.sip"), TRUNK, udp.user)
    assert isinstance(tx, InviteClientTransaction)
    assert udp.deliver("answer-3-in-200.sip")
    assert state_of(tx) is State.ACCEPTED
    assert udp.deliver("answer-3-in-200.sip")  # the core re-ACKs each one
    assert udp.user.responses == [(200, None), (200, None)]
    assert len(udp.sender.sent) == 1  # the transaction does not ACK a 2xx itself
    tx.timer_m.expired()
    assert tx.state is State.TERMINATED


async def test_non_invite_timer_e_doubles_up_to_t2(udp: Harness) -> None:
    tx = udp.bye()
    delays = []
    for _ in range(7):
        delays.append(tx.timer_e.delay)
        tx.timer_e.expired()
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert len(udp.sender.sent) == 8
    assert {data for data, _ in udp.sender.sent} == {wire("answer-5-out-BYE.sip")}


async def test_non_invite_proceeding_retransmits_every_t2(udp: Harness) -> None:
    tx = udp.bye()
    bye = request("answer-5-out-BYE.sip")
    trying = parse_message(wire("answer-6-in-200.sip").replace(b"200 OK", b"100 Trying"))
    assert isinstance(trying, SipResponse) and trying.cseq == bye.cseq
    udp.layer.response_received(trying)
    assert tx.state is State.PROCEEDING
    tx.timer_e.expired()
    assert tx.timer_e.delay == 4.0


async def test_timer_f_gives_a_synthetic_408(udp: Harness) -> None:
    tx = udp.bye()
    tx.timer_f.expired()
    assert udp.user.responses == [(408, TIMER_F_CAUSE)]
    assert tx.state is State.TERMINATED and not tx.timer_e.running


async def test_timer_k_absorbs_retransmitted_finals(udp: Harness) -> None:
    tx = udp.bye()
    assert udp.deliver("answer-6-in-200.sip")
    assert state_of(tx) is State.COMPLETED and not tx.timer_e.running
    assert tx.timer_k.delay == 5.0  # T4
    assert udp.deliver("answer-6-in-200.sip")
    assert udp.user.responses == [(200, None)]
    tx.timer_k.expired()
    assert tx.state is State.TERMINATED
    assert not udp.deliver("answer-6-in-200.sip")


async def test_reliable_transport_neither_retransmits_nor_waits(tcp: Harness) -> None:
    invite = tcp.invite()
    assert not invite.timer_a.running and invite.timer_b.running
    tcp.deliver("busy-3-in-486.sip")
    assert invite.state is State.TERMINATED  # Timer D is zero over TCP
    assert tcp.sender.sent[-1][0] == wire("busy-4-out-ACK.sip")
    bye = tcp.bye()
    assert not bye.timer_e.running and bye.timer_f.running
    tcp.deliver("answer-6-in-200.sip")
    assert bye.state is State.TERMINATED  # Timer K too
    assert len(tcp.layer) == 0


async def test_transport_error_fails_pending_transactions_to_that_address(udp: Harness) -> None:
    invite = udp.invite()
    bye = udp.layer.send_request(request("answer-5-out-BYE.sip"), ("127.0.0.1", 9), udp.user)
    udp.layer.transport_failed(TRUNK, "ICMP port unreachable")
    assert udp.user.responses == [(503, "ICMP port unreachable")]
    assert invite.state is State.TERMINATED
    assert bye.state is State.TRYING


async def test_responses_match_on_branch_and_method(udp: Harness) -> None:
    udp.invite()
    branch = (
        Via.parse(response("busy-3-in-486.sip").headers.get("Via") or "").branch or ""
    ).encode()
    other_branch = wire("busy-3-in-486.sip").replace(branch, b"z9hG4bKother")
    assert not udp.layer.response_received(_response(other_branch))
    as_cancel = wire("busy-3-in-486.sip").replace(b"1 INVITE", b"1 CANCEL")
    assert not udp.layer.response_received(_response(as_cancel))
    assert udp.user.responses == []


def _response(data: bytes) -> SipResponse:
    message = parse_message(data)
    assert isinstance(message, SipResponse)
    return message


def test_ack_for_non_2xx_keeps_the_invite_route_set() -> None:
    invite = request("busy-0-out-INVITE.sip")
    invite.headers.add("Route", "<sip:proxy.example:5070;lr>")
    ack = ack_for_non_2xx(invite, response("busy-3-in-486.sip"))
    assert ack.headers.get_all("Route") == ["<sip:proxy.example:5070;lr>"]
    assert ack.body == b""


# -- server transactions: requests the callee sends us ------------------------------------


async def test_retransmitted_request_gets_the_same_response(udp: Harness) -> None:
    options = request("reinvite-7-in-OPTIONS.sip")
    source = CALLEE
    stx = udp.layer.request_received(options, source)
    assert stx is not None
    ok = parse_message(wire("reinvite-8-out-200.sip"))
    assert isinstance(ok, SipResponse)
    stx.respond(ok)
    assert udp.sender.sent == [(wire("reinvite-8-out-200.sip"), source)]
    assert stx.timer_j.running and stx.timer_j.delay == 32.0
    assert udp.layer.request_received(request("reinvite-7-in-OPTIONS.sip"), source) is None
    assert udp.sender.sent[-1] == (wire("reinvite-8-out-200.sip"), source)
    stx.timer_j.expired()
    assert stx.state is State.TERMINATED and len(udp.layer) == 0


async def test_reinvite_2xx_is_retransmitted_until_the_ack(udp: Harness) -> None:
    reinvite = request("reinvite-4-in-INVITE.sip")
    source = CALLEE
    stx = udp.layer.request_received(reinvite, source)
    assert stx is not None
    ok = parse_message(wire("reinvite-5-out-200.sip"))
    assert isinstance(ok, SipResponse)
    stx.respond(ok)
    delays = []
    for _ in range(5):
        delays.append(stx.timer_g.delay)
        stx.timer_g.expired()
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert len(udp.sender.sent) == 6
    # The ACK for a 2xx has its own branch: the core routes it; the transaction stops.
    ack = request("reinvite-6-in-ACK.sip")
    assert udp.layer.request_received(ack, source) is None
    stx.ack_received()
    assert not stx.timer_g.running and stx.state is State.ACCEPTED


async def test_rport_is_filled_in_and_the_response_goes_to_the_source(udp: Harness) -> None:
    options = request("reinvite-7-in-OPTIONS.sip")
    via = options.headers.get("Via") or ""
    options.headers.set("Via", via.replace(";branch", ";rport;branch"))
    nat: Address = ("127.0.0.1", 40000)
    stx = udp.layer.request_received(options, nat)
    assert stx is not None
    stx.respond(_response(wire("reinvite-8-out-200.sip")))
    data, destination = udp.sender.sent[-1]
    assert destination == nat
    sent = _response(data)
    top = Via.parse(sent.headers.get("Via") or "")
    assert (top.params["rport"], top.received) == ("40000", "127.0.0.1")


@dataclass
class FailingSender:
    """A transport whose send fails at once and says so, as UdpTransport does on EACCES."""

    layer: TransactionLayer | None = None
    reliable: bool = False

    def send(self, data: bytes, destination: Address) -> None:
        assert self.layer is not None
        self.layer.transport_failed(destination, "send failed: Permission denied")


@pytest.mark.parametrize("name", ["busy-0-out-INVITE.sip", "answer-5-out-BYE.sip"])
async def test_a_send_that_fails_at_once_ends_the_transaction_with_its_timers(name: str) -> None:
    sender = FailingSender()
    layer = sender.layer = TransactionLayer(sender, TIMERS)
    user = Recorder()
    tx = layer.send_request(request(name), TRUNK, user)
    assert user.responses == [(503, "send failed: Permission denied")]
    assert tx.state is State.TERMINATED
    assert len(layer) == 0
    # No retransmission or timeout timer outlives the transaction.
    timers = [getattr(tx, f"timer_{letter}", None) for letter in "abdmefk"]
    assert not [timer for timer in timers if timer is not None and timer.running]
