"""The call state machine, driven by captured responses replayed through the UA core.

The far end is scripted here: each reply is a captured SIPp message whose Via, From,
Call-ID and CSeq are swapped for those of the request it answers. Timers fire by hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.peers.dialing import dial_request
from tests.peers.net import free_ports
from tests.peers.voices import tone
from voxcall.dialers.base import AttemptResult
from voxcall.dialers.sip.call import TRANSITIONS, Call, CallState, IllegalTransition
from voxcall.dialers.sip.config import CallSettings
from voxcall.dialers.sip.dialog import tag_of
from voxcall.dialers.sip.digest import DigestChallenge
from voxcall.dialers.sip.header_values import Via
from voxcall.dialers.sip.media import RtpPacer, RtpPortPool
from voxcall.dialers.sip.message import SipRequest, SipResponse, parse_message
from voxcall.dialers.sip.rtp import RtpPacket
from voxcall.dialers.sip.sdp import PCMA, PCMU, SessionDescription
from voxcall.dialers.sip.timers import TimerValues
from voxcall.dialers.sip.transaction import Address
from voxcall.dialers.sip.transport import TransportUser
from voxcall.dialers.sip.ua import UserAgent
from voxcall.domain.interaction import Gather

CAPTURES = Path(__file__).with_name("data") / "sipp"
TRUNK: Address = ("127.0.0.1", 5062)
LOCAL: Address = ("127.0.0.1", 5099)


@dataclass
class FakeTransport:
    """Records what the UA sends; the test plays the network."""

    user: TransportUser
    name: str = "UDP"
    reliable: bool = False
    sent: list[tuple[SipRequest | SipResponse, Address]] = field(default_factory=list)
    fail_with: str | None = None  # set: every send fails at once, as UdpTransport reports it

    @property
    def local_address(self) -> Address:
        return LOCAL

    async def ensure_open(self) -> None:
        return None

    def send(self, data: bytes, destination: Address) -> None:
        if self.fail_with is not None:
            self.user.transport_error(destination, self.fail_with)
            return
        self.sent.append((parse_message(data), destination))

    def close(self) -> None:
        return None


@dataclass
class FarEnd:
    ua: UserAgent
    transport: FakeTransport

    def requests(self, method: str) -> list[SipRequest]:
        return [
            m for m, _ in self.transport.sent if isinstance(m, SipRequest) and m.method == method
        ]

    def responses(self) -> list[SipResponse]:
        return [m for m, _ in self.transport.sent if isinstance(m, SipResponse)]

    def reply(
        self, request: SipRequest, capture: str | bytes, *, to_tag: str = "far1"
    ) -> SipResponse:
        """A captured response (a file name, or its bytes), re-addressed to `request` (its To
        gets `to_tag` unless the response is a 100 or the request is inside a dialog)."""
        data = capture if isinstance(capture, bytes) else (CAPTURES / capture).read_bytes()
        response = parse_message(data)
        assert isinstance(response, SipResponse)
        for name in ("Via", "From", "Call-ID", "CSeq"):
            response.headers.set(name, ", ".join(request.headers.get_all(name)))
        to = request.headers.get("To") or ""
        if response.status_code > 100 and tag_of(to) is None:
            to = f"{to};tag={to_tag}"
        response.headers.set("To", to)
        self.ua.received(response.serialize(), TRUNK)
        return response

    def send(self, request: bytes) -> None:
        self.ua.received(request, TRUNK)


@dataclass
class Harness:
    far: FarEnd
    ports: RtpPortPool
    pacer: RtpPacer
    settings: CallSettings

    def call(
        self, seconds: float = 5.0, ring_timeout: float = 30.0, gather: Gather | None = None
    ) -> Call:
        request = dial_request(tone(seconds), ring_timeout=ring_timeout, gather=gather)
        call = Call(self.far.ua, self.settings, self.pacer, self.ports, request)
        call.start()
        return call


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    transports: list[FakeTransport] = []

    def make(user: TransportUser) -> FakeTransport:
        transports.append(FakeTransport(user))
        return transports[-1]

    ua = UserAgent(make, TimerValues())
    low = free_ports(16)
    ports = RtpPortPool("127.0.0.1", low, low + 15)
    pacer = RtpPacer()
    settings = CallSettings(
        destination=TRUNK,
        request_host="127.0.0.1:5062",
        from_address="<sip:voxcall@127.0.0.1>",
        contact_user="voxcall",
        media_ip="127.0.0.1",
        codecs=(PCMA, PCMU),
        username="alice",
        password="secret",
        bye_tail=0.0,  # the tests count the voice's own packets
    )
    yield Harness(FarEnd(ua, transports[0]), ports, pacer, settings)
    pacer.close()
    for call in list(ua.calls.values()):
        assert isinstance(call, Call)
        call.abandon()
    assert ports.in_use == 0
    ua.close()


def state_of(call: Call) -> CallState:
    """Read through a call, so mypy does not keep an earlier assert's narrowing."""
    return call.state


def branch(message: SipRequest | SipResponse) -> str | None:
    return Via.parse(message.headers.get("Via") or "").branch


def test_transition_table_always_leads_to_terminated() -> None:
    assert TRANSITIONS[CallState.TERMINATED] == frozenset()
    for state in CallState:
        seen, frontier = {state}, [state]
        while frontier:
            for following in TRANSITIONS[frontier.pop()] - seen:
                seen.add(following)
                frontier.append(following)
        assert CallState.TERMINATED in seen or state is CallState.TERMINATED


async def test_illegal_moves_are_refused(harness: Harness) -> None:
    call = harness.call()
    assert state_of(call) is CallState.CALLING
    with pytest.raises(IllegalTransition, match="calling -> new"):
        call._transition(CallState.NEW)
    harness.far.reply(harness.far.requests("INVITE")[0], "busy-3-in-486.sip")
    assert call.state is CallState.TERMINATED
    with pytest.raises(IllegalTransition, match="terminated -> confirmed"):
        call._transition(CallState.CONFIRMED)
    assert harness.ports.in_use == 0


async def test_401_then_407_then_401_again(harness: Harness) -> None:
    call = harness.call()
    far = harness.far
    first = far.requests("INVITE")[0]
    unauthorized = (
        (CAPTURES / "auth407-1-in-407.sip")
        .read_bytes()
        .replace(b"407 Proxy Authentication Required", b"401 Unauthorized")
        .replace(b"Proxy-Authenticate", b"WWW-Authenticate")
    )
    far.reply(first, unauthorized)
    second = far.requests("INVITE")[1]
    assert "Authorization" in second.headers
    assert second.call_id == first.call_id
    assert second.cseq == (2, "INVITE")
    assert branch(second) != branch(first)
    far.reply(second, "auth407-1-in-407.sip")  # now the proxy wants its own
    third = far.requests("INVITE")[2]
    assert third.cseq == (3, "INVITE")
    assert "Authorization" in third.headers and "Proxy-Authorization" in third.headers
    far.reply(third, unauthorized)  # a second 401: not answered again
    assert len(far.requests("INVITE")) == 3
    assert call.outcome.result().cause == "401 Unauthorized"
    assert len(far.requests("ACK")) == 3  # one per challenge or refusal, hop by hop


async def test_retransmitted_2xx_is_acked_again_and_a_fork_is_hung_up(harness: Harness) -> None:
    call = harness.call()
    far = harness.far
    invite = far.requests("INVITE")[0]
    far.reply(invite, "answer-3-in-200.sip", to_tag="callee")
    assert call.state is CallState.CONFIRMED
    far.reply(invite, "answer-3-in-200.sip", to_tag="callee")  # our ACK was lost
    acks = far.requests("ACK")
    assert len(acks) == 2 and acks[0].serialize() == acks[1].serialize()
    assert far.requests("BYE") == []
    far.reply(invite, "answer-3-in-200.sip", to_tag="fork2")  # another phone answered too
    ack, bye = far.requests("ACK")[2], far.requests("BYE")[0]
    assert tag_of(ack.headers.get("To") or "") == tag_of(bye.headers.get("To") or "") == "fork2"
    assert call.state is CallState.CONFIRMED  # our call plays on


async def test_cancel_waits_for_a_provisional_response(harness: Harness) -> None:
    call = harness.call()
    far = harness.far
    call.ring_timer.expired()
    assert call.state is CallState.CANCELLING
    assert far.requests("CANCEL") == []  # RFC 3261 §9.1
    invite = far.requests("INVITE")[0]
    far.reply(invite, "busy-2-in-180.sip")
    (cancel,) = far.requests("CANCEL")
    assert branch(cancel) == branch(invite)
    assert cancel.cseq == (1, "CANCEL")
    assert cancel.uri == invite.uri
    far.reply(invite, "busy-3-in-486.sip")  # crossed the CANCEL
    outcome = call.outcome.result()
    assert (outcome.result, outcome.cause) == (
        AttemptResult.NO_ANSWER,
        "ring timeout (486 Busy Here)",
    )


async def test_no_final_response_after_cancel(harness: Harness) -> None:
    call = harness.call()
    far = harness.far
    far.reply(far.requests("INVITE")[0], "busy-2-in-180.sip")
    call.ring_timer.expired()
    assert len(far.requests("CANCEL")) == 1
    assert call.cancel_timer.running
    assert call.cancel_timer.delay == 32.0
    call.cancel_timer.expired()
    outcome = call.outcome.result()
    assert outcome.result is AttemptResult.NO_ANSWER
    assert outcome.cause == "ring timeout (no final response after CANCEL)"
    assert call.state is CallState.TERMINATED
    assert len(far.ua.transactions) == 1  # the CANCEL's; the INVITE's was abandoned


async def test_requests_from_the_callee(harness: Harness) -> None:
    call = harness.call()
    far = harness.far
    invite = far.requests("INVITE")[0]
    ok = far.reply(invite, "answer-3-in-200.sip", to_tag="callee")

    def in_dialog(method: str, cseq: int, *, from_tag: str = "callee") -> bytes:
        contact = "sip:voxcall@127.0.0.1:5099"
        return (
            f"{method} {contact} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{method}{cseq}\r\n"
            f"From: {ok.headers.get('To')}".replace("tag=callee", f"tag={from_tag}")
            + "\r\n"
            f"To: {invite.headers.get('From')}\r\n"
            f"Call-ID: {invite.call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    far.send(in_dialog("OPTIONS", 1))
    far.send(in_dialog("MESSAGE", 2))
    far.send(in_dialog("BYE", 3, from_tag="stranger"))
    far.send(in_dialog("INFO", 2))  # CSeq went backwards
    assert [(r.status_code, r.cseq[1]) for r in far.responses()] == [
        (200, "OPTIONS"),
        (405, "MESSAGE"),
        (481, "BYE"),
        (500, "INFO"),
    ]
    assert state_of(call) is CallState.CONFIRMED
    far.send(in_dialog("BYE", 4))
    assert (far.responses()[-1].status_code, far.responses()[-1].cseq[1]) == (200, "BYE")
    outcome = call.outcome.result()
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; callee hung up")
    assert call.state is CallState.TERMINATED
    assert harness.ports.in_use == 0


async def test_key_presses_by_info(harness: Harness) -> None:
    call = harness.call(gather=Gather(max_digits=2))
    far = harness.far
    invite = far.requests("INVITE")[0]
    ok = far.reply(invite, "answer-3-in-200.sip", to_tag="callee")

    def info(cseq: int, content_type: str, body: str) -> bytes:
        return (
            f"INFO sip:voxcall@127.0.0.1:5099 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKinfo{cseq}\r\n"
            f"From: {ok.headers.get('To')}\r\nTo: {invite.headers.get('From')}\r\n"
            f"Call-ID: {invite.call_id}\r\nCSeq: {cseq} INFO\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    far.send(info(1, "application/dtmf-relay", "Signal=9\r\nDuration=160\r\n"))
    far.send(info(2, "application/dtmf-relay", "Duration=160\r\n"))  # no key in it
    far.send(info(3, "application/media_control+xml", "<media_control/>"))  # not a key
    assert state_of(call) is CallState.CONFIRMED
    far.send(info(4, "application/dtmf", "*"))
    assert [r.status_code for r in far.responses()] == [200, 400, 200, 200]
    outcome = call.outcome.result()
    assert (outcome.digits, outcome.cause) == ("9*", "200 OK; max digits")
    assert far.requests("BYE")


async def test_sha256_challenge_with_qop_auth(harness: Harness) -> None:
    call = harness.call()
    far = harness.far
    challenge = (
        (CAPTURES / "auth407-1-in-407.sip")
        .read_bytes()
        .replace(
            b"algorithm=MD5",
            b'algorithm=MD5, qop="auth"\r\n'
            b'Proxy-Authenticate: Digest realm="sipp.test", nonce="n256", '
            b'algorithm=SHA-256, qop="auth"',
        )
    )
    invite = far.requests("INVITE")[0]
    far.reply(invite, challenge)
    retry = far.requests("INVITE")[1]
    params = dict(
        part.strip().split("=", 1)
        for part in (retry.headers.get("Proxy-Authorization") or "")
        .removeprefix("Digest ")
        .split(",")
    )
    values = {name: value.strip('"') for name, value in params.items()}
    assert values["algorithm"] == "SHA-256"  # the stronger of the two challenges
    assert (values["qop"], values["nc"]) == ("auth", "00000001")
    assert values["uri"] == invite.uri

    def sha256(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    ha1 = sha256("alice:sipp.test:secret")
    ha2 = sha256(f"INVITE:{invite.uri}")
    expected = sha256(f"{ha1}:n256:00000001:{values['cnonce']}:auth:{ha2}")
    assert values["response"] == expected
    assert call.state is CallState.CALLING


def digest_params(value: str | None) -> dict[str, str]:
    """The parameters of a Digest credentials header we built (no commas inside values)."""
    assert value is not None and value.startswith("Digest ")
    pairs = (part.strip().split("=", 1) for part in value.removeprefix("Digest ").split(","))
    return {name: raw.strip('"') for name, raw in pairs}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# -- our BYE challenged (RFC 3261 §22): captured from uas_bye_auth_401.xml --------------------

BYE_401 = (CAPTURES / "byeauth-5-in-401.sip").read_bytes()
BYE_407 = BYE_401.replace(b"401 Unauthorized", b"407 Proxy Authentication Required").replace(
    b"WWW-Authenticate", b"Proxy-Authenticate"
)


def answered(harness: Harness, seconds: float = 5.0) -> Call:
    call = harness.call(seconds)
    harness.far.reply(harness.far.requests("INVITE")[0], "byeauth-2-in-200.sip", to_tag="callee")
    assert call.state is CallState.CONFIRMED
    return call


@pytest.mark.parametrize(
    ("challenge", "credentials_header"),
    [(BYE_401, "Authorization"), (BYE_407, "Proxy-Authorization")],
)
async def test_challenged_bye_is_sent_again_with_credentials(
    harness: Harness, challenge: bytes, credentials_header: str
) -> None:
    call = answered(harness)
    far = harness.far
    call.hang_up()
    hung_up_at = time.time()
    (bye,) = far.requests("BYE")
    assert "Authorization" not in bye.headers
    far.reply(bye, challenge)

    retry = far.requests("BYE")[1]
    assert retry.cseq == (bye.cseq[0] + 1, "BYE")  # a new request in the same dialog
    assert branch(retry) != branch(bye)
    assert retry.uri == bye.uri
    for name in ("From", "To", "Call-ID"):
        assert retry.headers.get(name) == bye.headers.get(name)
    other = ({"Authorization", "Proxy-Authorization"} - {credentials_header}).pop()
    assert other not in retry.headers
    values = digest_params(retry.headers.get(credentials_header))
    nonce = DigestChallenge.parse(
        BYE_401.split(b"WWW-Authenticate: ")[1].split(b"\r\n")[0].decode()
    )
    assert (values["username"], values["realm"], values["nonce"]) == (
        "alice",
        "sipp.test",
        nonce.nonce,
    )
    assert (values["uri"], values["qop"], values["nc"]) == (bye.uri, "auth", "00000001")
    ha1, ha2 = md5("alice:sipp.test:secret"), md5(f"BYE:{bye.uri}")
    expected = md5(f"{ha1}:{nonce.nonce}:00000001:{values['cnonce']}:auth:{ha2}")
    assert values["response"] == expected
    assert state_of(call) is CallState.TERMINATING

    far.reply(retry, "byeauth-7-in-200.sip")
    assert state_of(call) is CallState.TERMINATED
    assert harness.ports.in_use == 0
    # Settled when the first BYE left, whatever the challenge: billed to that BYE.
    outcome = call.outcome.result()
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; hung up by voxcall")
    assert outcome.ended_at <= hung_up_at


async def test_bye_challenged_again_is_given_up(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    call = answered(harness)
    far = harness.far
    call.hang_up()
    far.reply(far.requests("BYE")[0], BYE_401)
    with caplog.at_level(logging.WARNING, logger="voxcall.sip"):
        far.reply(far.requests("BYE")[1], BYE_401)
    assert len(far.requests("BYE")) == 2  # one retry, no more
    assert call.state is CallState.TERMINATED
    assert call.closed.done()
    assert "BYE challenged again (401 Unauthorized); the trunk may keep the call up" in caplog.text
    assert call.outcome.result().result is AttemptResult.ANSWERED


@pytest.mark.parametrize(
    ("username", "challenge", "reason"),
    [
        (None, BYE_401, "challenged and we have no credentials"),
        (
            "alice",
            BYE_401.replace(b'qop="auth"', b'qop="auth-int"'),
            "challenged and we cannot answer: server offers only qop auth-int; we support auth",
        ),
    ],
)
async def test_bye_challenge_we_cannot_answer_ends_the_call(
    harness: Harness,
    caplog: pytest.LogCaptureFixture,
    username: str | None,
    challenge: bytes,
    reason: str,
) -> None:
    harness.settings = dataclasses.replace(harness.settings, username=username)
    call = answered(harness)
    call.hang_up()
    with caplog.at_level(logging.WARNING, logger="voxcall.sip"):
        harness.far.reply(harness.far.requests("BYE")[0], challenge)
    assert len(harness.far.requests("BYE")) == 1
    assert call.state is CallState.TERMINATED
    assert f"BYE {reason} (401 Unauthorized)" in caplog.text


# -- re-INVITEs that move or hold the media: captured from uas_reinvite_move.xml --------------


class RtpSink(asyncio.DatagramProtocol):
    """The far end's RTP port: every packet that reaches it, parsed."""

    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets.append(RtpPacket.parse(data))


@pytest.fixture
async def sinks() -> AsyncIterator[list[tuple[RtpSink, int]]]:
    loop = asyncio.get_running_loop()
    opened = [
        await loop.create_datagram_endpoint(RtpSink, local_addr=("127.0.0.1", 0)) for _ in range(2)
    ]
    yield [(sink, transport.get_extra_info("sockname")[1]) for transport, sink in opened]
    for transport, _ in opened:
        transport.close()


def with_media_port(message: SipRequest | SipResponse, port: int) -> None:
    session = SessionDescription.parse(message.body.decode())
    session.media[0].port = port
    message.body = str(session).encode()


def answer_with_media(far: FarEnd, invite: SipRequest, port: int) -> SipResponse:
    """The captured 200 to our INVITE, its media on `port`."""
    ok = parse_message((CAPTURES / "move-2-in-200.sip").read_bytes())
    assert isinstance(ok, SipResponse)
    with_media_port(ok, port)
    return far.reply(invite, ok.serialize(), to_tag="callee")


def reinvite(ok: SipResponse, invite: SipRequest, cseq: int, port: int, direction: str) -> bytes:
    """The captured re-INVITE, in this dialog, offering `port` with `direction`."""
    request = parse_message((CAPTURES / "move-4-in-INVITE.sip").read_bytes())
    assert isinstance(request, SipRequest)
    via = Via.parse(request.headers.get("Via") or "")
    via.params["branch"] = f"z9hG4bK-move-{cseq}"
    request.headers.set("Via", str(via))
    request.headers.set("From", ok.headers.get("To") or "")
    request.headers.set("To", invite.headers.get("From") or "")
    request.headers.set("Call-ID", invite.call_id)
    request.headers.set("CSeq", f"{cseq} INVITE")
    with_media_port(request, port)
    request.body = request.body.replace(b"a=sendrecv", f"a={direction}".encode())
    return request.serialize()


def ack_for(request: bytes) -> bytes:
    ack = parse_message(request)
    assert isinstance(ack, SipRequest)
    ack.method = "ACK"
    ack.headers.set("Via", (ack.headers.get("Via") or "") + "-ack")
    ack.headers.set("CSeq", f"{ack.cseq[0]} ACK")
    ack.body = b""
    return ack.serialize()


async def test_reinvites_move_hold_and_resume_the_media(
    harness: Harness, sinks: list[tuple[RtpSink, int]]
) -> None:
    (sink_a, port_a), (sink_b, port_b) = sinks
    far = harness.far
    call = harness.call(2.0)
    invite = far.requests("INVITE")[0]
    ok = answer_with_media(far, invite, port_a)
    answers: list[str] = []

    async def offer(cseq: int, port: int, direction: str, then: float) -> None:
        request = reinvite(ok, invite, cseq, port, direction)
        far.send(request)
        (response,) = [r for r in far.responses() if r.cseq == (cseq, "INVITE")]
        assert response.status_code == 200
        answers.append(
            SessionDescription.parse(response.body.decode()).media[0].attributes[-1].name
        )
        far.send(ack_for(request))
        await asyncio.sleep(then)

    await asyncio.sleep(0.2)
    await offer(1, port_b, "sendrecv", 0.2)  # moved
    await offer(2, port_b, "sendonly", 0.05)  # held
    on_hold = len(sink_b.packets)
    await asyncio.sleep(0.3)
    assert len(sink_b.packets) == on_hold
    await offer(3, port_b, "sendrecv", 0)  # resumed
    outcome = await asyncio.wait_for(asyncio.shield(call.outcome), timeout=5)
    await asyncio.sleep(0.03)

    assert answers == ["sendrecv", "recvonly", "sendrecv"]
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    assert outcome.answered_at is not None
    # The voice's clock ran through the hold: it ended when 2 s of it would have.
    assert 1.9 < outcome.ended_at - outcome.answered_at < 2.4
    assert 5 <= len(sink_a.packets) <= 15
    packets = sink_a.packets + sink_b.packets
    held = 100 - len(packets)
    assert 12 <= held <= 25
    assert len({p.ssrc for p in packets}) == 1
    for earlier, later in itertools.pairwise(packets):
        assert later.sequence_number == (earlier.sequence_number + 1) % 65536
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert sorted(steps)[-1] == 160 * (held + 1) and sorted(steps)[-2] == 160
    resumed = steps.index(160 * (held + 1)) + 1
    assert [p.marker for p in packets] == [i in (0, resumed) for i in range(len(packets))]


# -- UPDATE (RFC 3311): a session-timer refresh, or an offer like a re-INVITE's ----------------


def update(ok: SipResponse, invite: SipRequest, cseq: int, sdp: bytes = b"") -> bytes:
    """An UPDATE from the callee in this dialog, with `sdp` as its offer (none if empty)."""
    content_type = "Content-Type: application/sdp\r\n" if sdp else ""
    return (
        f"UPDATE sip:voxcall@127.0.0.1:5099 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-update-{cseq}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: {ok.headers.get('To')}\r\n"
        f"To: {invite.headers.get('From')}\r\n"
        f"Call-ID: {invite.call_id}\r\n"
        f"CSeq: {cseq} UPDATE\r\n"
        "Session-Expires: 90;refresher=uas\r\n"
        f"{content_type}Content-Length: {len(sdp)}\r\n\r\n"
    ).encode() + sdp


async def test_update_without_sdp_gets_200_without_a_body(harness: Harness) -> None:
    far = harness.far
    call = harness.call()
    invite = far.requests("INVITE")[0]
    ok = far.reply(invite, "answer-3-in-200.sip", to_tag="callee")
    far.send(update(ok, invite, 1))
    response = far.responses()[-1]
    assert (
        response.serialize()
        == (
            "SIP/2.0 200 OK\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-update-1\r\n"
            f"From: {ok.headers.get('To')}\r\n"
            f"To: {invite.headers.get('From')}\r\n"
            f"Call-ID: {invite.call_id}\r\n"
            "CSeq: 1 UPDATE\r\n"
            "Contact: <sip:voxcall@127.0.0.1:5099>\r\n"
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    assert call.state is CallState.CONFIRMED  # a refresh changes nothing


async def test_update_with_sdp_is_answered_and_moves_the_media(
    harness: Harness, sinks: list[tuple[RtpSink, int]]
) -> None:
    (sink_a, port_a), (sink_b, port_b) = sinks
    far = harness.far
    call = harness.call(1.0)
    invite = far.requests("INVITE")[0]
    ok = answer_with_media(far, invite, port_a)
    offered = SessionDescription.parse(ok.body.decode())
    offered.media[0].port = port_b
    await asyncio.sleep(0.2)
    far.send(update(ok, invite, 1, str(offered).encode()))
    response = far.responses()[-1]
    assert (response.status_code, response.cseq) == (200, (1, "UPDATE"))
    assert response.headers.get("Content-Type") == "application/sdp"
    answer = SessionDescription.parse(response.body.decode())
    assert answer.media[0].attributes[-1].name == "sendrecv"
    outcome = await asyncio.wait_for(asyncio.shield(call.outcome), timeout=5)
    await asyncio.sleep(0.03)
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    assert 5 <= len(sink_a.packets) <= 15  # about 0.2 s before the UPDATE
    assert len(sink_a.packets) + len(sink_b.packets) == 50  # then the rest, to B
    assert harness.ports.in_use == 0


async def test_an_invite_that_cannot_be_sent_ends_the_call_at_once(harness: Harness) -> None:
    harness.far.transport.fail_with = "send failed: Network is unreachable"
    call = harness.call()
    assert call.state is CallState.TERMINATED
    outcome = call.outcome.result()
    assert (outcome.result, outcome.cause) == (
        AttemptResult.ERROR,
        "send failed: Network is unreachable",
    )
    assert not call.ring_timer.running
    assert harness.ports.in_use == 0


async def test_a_bye_that_cannot_be_sent_ends_the_call(harness: Harness) -> None:
    call = answered(harness)
    harness.far.transport.fail_with = "send failed: Network is unreachable"
    call.hang_up()
    assert call.state is CallState.TERMINATED  # not left waiting for a BYE response
    assert call.outcome.result().cause == "200 OK; hung up by voxcall"
    assert harness.ports.in_use == 0


async def test_a_cancel_that_cannot_be_sent_ends_the_call(harness: Harness) -> None:
    call = harness.call()
    harness.far.reply(harness.far.requests("INVITE")[0], "busy-2-in-180.sip")
    harness.far.transport.fail_with = "send failed: Network is unreachable"
    call.ring_timer.expired()
    assert call.state is CallState.TERMINATED
    assert call.outcome.result().result is AttemptResult.ERROR
    assert not call.cancel_timer.running


@pytest.mark.parametrize(
    ("header", "value", "problem"),
    [
        ("Contact", "<tel:+989121234567>", "Contact '<tel:+989121234567>': unsupported URI"),
        ("Contact", "<sips:callee@127.0.0.1:5061>", "Contact '<sips:callee@127.0.0.1:5061>': not"),
        ("Record-Route", "<sip:127.0.0.1;lr", "Record-Route '<sip:127.0.0.1;lr': missing '>'"),
    ],
)
async def test_an_unusable_2xx_is_acked_and_hung_up_through_the_trunk(
    harness: Harness, header: str, value: str, problem: str
) -> None:
    call = harness.call()
    far = harness.far
    invite = far.requests("INVITE")[0]
    ok = parse_message((CAPTURES / "byeauth-2-in-200.sip").read_bytes())
    assert isinstance(ok, SipResponse)
    ok.headers.set(header, value)
    far.reply(invite, ok.serialize(), to_tag="callee")
    assert call.state is CallState.TERMINATING
    ack, bye = far.requests("ACK")[0], far.requests("BYE")[0]
    sent_to = {id(m): destination for m, destination in far.transport.sent}
    # Where the INVITE went: its Request-URI, and the trunk's address.
    assert (ack.uri, bye.uri) == (invite.uri, invite.uri)
    assert sent_to[id(ack)] == sent_to[id(bye)] == TRUNK
    assert "Route" not in ack.headers and "Route" not in bye.headers
    outcome = call.outcome.result()
    assert outcome.result is AttemptResult.ERROR
    assert outcome.cause.startswith(f"200 OK; unusable answer: {problem}")
    far.reply(bye, "answer-6-in-200.sip", to_tag="callee")
    assert call.state is CallState.TERMINATED
