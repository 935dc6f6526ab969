"""Call flows against a real far end: SIPp UAS scenarios on loopback.

Each test checks our outcome and SIPp's exit code: 0 means SIPp saw every message its
scenario expects from us (the ACK for a 486, the CANCEL, the BYE...), so both ends agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.peers.dialing import NUMBER, dial_request, running_dialer
from tests.peers.net import HOST, free_ports
from tests.peers.sipp import SippFactory, SippUas
from tests.peers.voices import tone
from voxcall.calls.policy import decide
from voxcall.dialers.base import AttemptOutcome, AttemptResult
from voxcall.dialers.sip.driver import SipDialer
from voxcall.dialers.sip.g711 import ULAW_SILENCE
from voxcall.dialers.sip.rtp import RtpPacket
from voxcall.domain.calls import CallStatus

pytestmark = pytest.mark.peers


async def sipp_result(uas: SippUas) -> int:
    return await asyncio.to_thread(uas.wait)


async def closed(dialer: SipDialer) -> None:
    """Wait until the dialer's calls have ended; each must have given its RTP port back."""
    async with asyncio.timeout(5.0):
        await dialer.wait_idle()
    assert (dialer.active_calls, dialer.rtp_ports_in_use) == (0, 0)


def check_times(outcome: AttemptOutcome) -> None:
    assert outcome.started_at <= outcome.ended_at
    if outcome.answered_at is not None:
        assert outcome.started_at <= outcome.answered_at <= outcome.ended_at


async def test_answered_voice_played_then_our_bye(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_answer.xml", variables={"hangup_s": "0"})
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.2)))
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.cause == "200 OK; voice played"
    assert outcome.answered_at is not None
    # 1.2 s of voice and 250 ms of silence (the BYE tail) in 73 packets, the last leaving at
    # 1.44 s, then the BYE: billed 2 s, whatever the ring time before.
    assert 1.44 <= outcome.ended_at - outcome.answered_at < 1.9
    assert outcome.bill_sec == 2
    check_times(outcome)
    assert await sipp_result(uas) == 0, uas.diagnostics()


async def test_callee_hangs_up_mid_playback(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_answer.xml", variables={"hangup_s": "1"})
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(3.0)))
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.cause == "200 OK; callee hung up"
    assert outcome.answered_at is not None
    talk = outcome.ended_at - outcome.answered_at
    assert 1.0 <= talk < 1.9, talk  # SIPp's BYE ~1 s after our ACK, long before 3 s
    assert outcome.bill_sec == 2
    assert await sipp_result(uas) == 0, uas.diagnostics()


@pytest.mark.parametrize(
    ("scenario", "result", "cause"),
    [
        ("uas_busy.xml", AttemptResult.BUSY, "486 Busy Here"),
        # A 408 from the far end means nobody answered (our own Timer B would be ERROR).
        ("uas_408.xml", AttemptResult.NO_ANSWER, "408 Request Timeout"),
        ("uas_480.xml", AttemptResult.NO_ANSWER, "480 Temporarily Unavailable"),
        ("uas_404.xml", AttemptResult.ERROR, "404 Not Found"),
        ("uas_503.xml", AttemptResult.ERROR, "503 Service Unavailable"),
        # The callee refusing the call is a busy callee: tried again later.
        ("uas_603.xml", AttemptResult.BUSY, "603 Decline"),
        # A 487 we sent no CANCEL for: the trunk gave up ringing, nobody answered.
        ("uas_487.xml", AttemptResult.NO_ANSWER, "487 Request Terminated"),
    ],
)
async def test_rejected(
    sipp_uas: SippFactory, scenario: str, result: AttemptResult, cause: str
) -> None:
    uas = sipp_uas(scenario)
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
        await closed(dialer)
    assert (outcome.result, outcome.cause) == (result, cause)
    assert outcome.answered_at is None
    assert outcome.bill_sec == 0
    check_times(outcome)
    assert await sipp_result(uas) == 0, uas.diagnostics()  # it got our ACK


async def test_ring_timeout_cancels(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_ring_no_answer.xml")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0), ring_timeout=1.0))
    assert outcome.result is AttemptResult.NO_ANSWER
    assert outcome.cause == "ring timeout (487 Request Terminated)"
    assert 1.0 <= outcome.ended_at - outcome.started_at < 1.5
    assert outcome.bill_sec == 0
    assert await sipp_result(uas) == 0, uas.diagnostics()  # CANCEL, then ACK for the 487


async def test_200_crossing_our_cancel_is_acked_and_hung_up(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_answer_on_cancel.xml")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0), ring_timeout=0.5))
    assert outcome.result is AttemptResult.NO_ANSWER
    assert outcome.cause == "ring timeout (200 OK; answered after CANCEL)"
    assert outcome.answered_at is not None
    assert outcome.bill_sec == 1  # the trunk bills the moment it was up
    assert await sipp_result(uas) == 0, uas.diagnostics()  # ACK and BYE for that 200


async def test_183_session_progress_then_answer(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_183_answer.xml")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.5)))
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.answered_at is not None
    assert outcome.answered_at - outcome.started_at >= 0.5  # the 183 did not count as answer
    assert outcome.bill_sec == 2
    assert await sipp_result(uas) == 0, uas.diagnostics()


def digest_md5(user: str, realm: str, password: str, nonce: str, method: str, uri: str) -> str:
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    return md5(f"{md5(f'{user}:{realm}:{password}')}:{nonce}:{md5(f'{method}:{uri}')}")


async def test_407_challenge_then_answer(sipp_uas: SippFactory) -> None:
    # uas_auth_407.xml challenges with a fixed realm and nonce and no qop, so the one
    # right response is known in advance; a wrong one gets 403.
    port = free_ports(1)
    uri = f"sip:{NUMBER}@127.0.0.1:{port}"
    expected = digest_md5("alice", "sipp.test", "secret", "0a4f113b8c9d2e7f", "INVITE", uri)
    uas = sipp_uas("uas_auth_407.xml", variables={"expect_resp": expected}, port=port)
    async with running_dialer(uas.trunk, username="alice", password="secret") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
    assert outcome.result is AttemptResult.ANSWERED, outcome
    assert outcome.cause == "200 OK; voice played"
    assert await sipp_result(uas) == 0, uas.diagnostics()


async def test_401_challenge_with_qop_then_answer(sipp_uas: SippFactory) -> None:
    # uas_auth_401.xml checks the Authorization (qop=auth) with SIPp's own verifyauth.
    uas = sipp_uas("uas_auth_401.xml", variables={"auth_user": "alice", "auth_pass": "secret"})
    async with running_dialer(uas.trunk, username="alice", password="secret") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
    assert outcome.result is AttemptResult.ANSWERED, outcome
    assert await sipp_result(uas) == 0, uas.diagnostics()


async def test_401_with_a_wrong_password_ends_in_403(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_auth_401.xml", variables={"auth_user": "alice", "auth_pass": "secret"})
    async with running_dialer(uas.trunk, username="alice", password="wrong") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, "403 Forbidden")
    assert await sipp_result(uas) == 1  # the scenario marks a refused digest as a failed call


async def test_no_common_codec_acks_then_hangs_up(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_answer_g729.xml")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, "488 no common codec")
    assert outcome.answered_at is not None
    assert await sipp_result(uas) == 0, uas.diagnostics()  # ACK, then BYE


async def test_reinvite_and_options_inside_the_dialog(sipp_uas: SippFactory) -> None:
    # The callee re-INVITEs (we answer 200 with SDP, checked by the scenario) and sends
    # OPTIONS mid-call; the voice keeps playing and ends with our BYE.
    uas = sipp_uas("uas_reinvite.xml")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.5)))
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.cause == "200 OK; voice played"
    assert await sipp_result(uas) == 0, uas.diagnostics()


async def test_tcp_transport(sipp_uas: SippFactory) -> None:
    # Two calls, one after the other, over the one connection to the trunk.
    uas = sipp_uas("uas_answer.xml", calls=2, variables={"hangup_s": "0"}, transport="tcp")
    async with running_dialer(uas.trunk) as dialer:
        outcomes = [await dialer.dial(dial_request(tone(1.5))) for _ in range(2)]
        # Still connected: SIPp fails a call whose connection closes in its final pause.
        assert await sipp_result(uas) == 0, uas.diagnostics()
    for outcome in outcomes:
        assert outcome.result is AttemptResult.ANSWERED
        assert outcome.cause == "200 OK; voice played"
        assert outcome.bill_sec == 2


async def dialog_of(uas: SippUas) -> list[str]:
    """Call-ID, From and To for a request from the callee, once the UAS has written them."""
    path = uas.workdir / "dialog.txt"
    async with asyncio.timeout(5.0):
        while True:  # SIPp's <exec> writes it in a shell of its own: nothing to wait on
            if path.exists():
                return [line.strip() for line in path.read_text().splitlines()]
            await asyncio.sleep(0.02)


async def test_tcp_callee_bye_on_a_new_connection_to_our_contact(sipp_uas: SippFactory) -> None:
    # The trunk answers over our connection; 1 s later the callee's BYE comes over a new
    # connection that a second SIPp opens to our Contact (RFC 3261 §18.1.2), and our 200
    # must go back on that connection.
    uas = sipp_uas("uas_tcp_answer_bye_elsewhere.xml", transport="tcp")
    async with running_dialer(uas.trunk) as dialer:
        attempt = asyncio.create_task(dialer.dial(dial_request(tone(4.0))))
        call_id, bye_from, bye_to = await dialog_of(uas)
        host, contact_port = dialer.local_address
        bye = await asyncio.to_thread(
            sipp_uas,
            "uac_tcp_bye.xml",
            transport="tcp",
            variables={"bye_from": bye_from, "bye_to": bye_to},
            extra=[f"{host}:{contact_port}", "-cid_str", call_id],
        )
        outcome = await attempt
        assert await sipp_result(bye) == 0, bye.diagnostics()  # it got our 200 to its BYE
        assert await sipp_result(uas) == 0, uas.diagnostics()
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; callee hung up")
    assert outcome.answered_at is not None
    talk = outcome.ended_at - outcome.answered_at
    assert 1.0 <= talk < 1.9, talk  # billed to the callee's BYE, not the 4 s of voice
    assert outcome.bill_sec == 2


async def test_update_inside_the_dialog_is_answered(sipp_uas: SippFactory) -> None:
    # A session-timer refresh by UPDATE without SDP (200 without a body), then an UPDATE
    # with an offer (200 with our SDP), both checked by the scenario; the call goes on.
    uas = sipp_uas("uas_update.xml")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(1.5)))
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    assert await sipp_result(uas) == 0, uas.diagnostics()


async def test_cancelled_dial_while_ringing_sends_cancel(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_ring_no_answer.xml")
    async with running_dialer(uas.trunk) as dialer:
        attempt = asyncio.create_task(dialer.dial(dial_request(tone(1.0), ring_timeout=30)))
        await asyncio.sleep(0.5)
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
    assert await sipp_result(uas) == 0, uas.diagnostics()  # it got the CANCEL and the ACK


async def test_cancelled_dial_while_playing_sends_bye(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_answer.xml", variables={"hangup_s": "0"})
    async with running_dialer(uas.trunk) as dialer:
        attempt = asyncio.create_task(dialer.dial(dial_request(tone(10.0))))
        await asyncio.sleep(1.0)  # answered after 0.5 s
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
    assert await sipp_result(uas) == 0, uas.diagnostics()  # it got the BYE


async def test_challenged_bye_is_sent_again_with_credentials(sipp_uas: SippFactory) -> None:
    # The trunk answers our BYE 401 (qop=auth); SIPp's verifyauth checks the retried BYE's
    # Authorization and its higher CSeq, then answers 200.
    uas = sipp_uas("uas_bye_auth_401.xml", variables={"auth_user": "alice", "auth_pass": "secret"})
    async with running_dialer(uas.trunk, username="alice", password="secret") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.2)))
        assert await sipp_result(uas) == 0, uas.diagnostics()
    # The outcome is what it would be without the challenge: billed to the first BYE.
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.cause == "200 OK; voice played"
    assert outcome.answered_at is not None
    assert 1.44 <= outcome.ended_at - outcome.answered_at < 1.9  # the voice, the tail
    assert outcome.bill_sec == 2


async def test_bye_challenged_twice_is_given_up(sipp_uas: SippFactory) -> None:
    # A second 401 for the retried BYE: no third BYE (SIPp fails the call if one comes
    # within 2 s), and the call is over at once, its outcome unchanged.
    uas = sipp_uas("uas_bye_auth_twice.xml")
    async with running_dialer(uas.trunk, username="alice", password="secret") as dialer:
        started = time.monotonic()
        outcome = await dialer.dial(dial_request(tone(1.0)))
        assert time.monotonic() - started < 2.0  # 1 s of voice after an immediate answer
        await asyncio.wait_for(dialer.wait_idle(), timeout=1.0)
        assert await sipp_result(uas) == 0, uas.diagnostics()
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    assert outcome.bill_sec == 2  # 1 s of voice, the 250 ms BYE tail, then the BYE


class RtpSink(asyncio.DatagramProtocol):
    """The far end's RTP port, played by the test: every packet, parsed, as it arrives."""

    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets.append(RtpPacket.parse(data))


async def rtp_sink() -> tuple[asyncio.DatagramTransport, RtpSink]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(RtpSink, local_addr=(HOST, 0))


@pytest.fixture
async def two_rtp_sinks() -> AsyncIterator[tuple[tuple[RtpSink, int], tuple[RtpSink, int]]]:
    (first, a), (second, b) = await rtp_sink(), await rtp_sink()
    yield (a, first.get_extra_info("sockname")[1]), (b, second.get_extra_info("sockname")[1])
    first.close()
    second.close()


async def test_reinvite_moves_the_media(
    sipp_uas: SippFactory, two_rtp_sinks: tuple[tuple[RtpSink, int], tuple[RtpSink, int]]
) -> None:
    # The 200 points our RTP at sink A; 0.5 s after the ACK, a re-INVITE points it at B.
    (sink_a, port_a), (sink_b, port_b) = two_rtp_sinks
    variables = {"rtp_port_a": str(port_a), "rtp_port_b": str(port_b)}
    uas = sipp_uas("uas_reinvite_move.xml", variables=variables)
    async with running_dialer(uas.trunk, bye_tail=100) as dialer:
        outcome = await dialer.dial(dial_request(tone(2.0)))
        assert await sipp_result(uas) == 0, uas.diagnostics()  # our 200 to the re-INVITE
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    before, after = sink_a.packets, sink_b.packets
    assert 10 <= len(before) <= 50, len(before)  # about 25: 0.5 s and a round trip
    # 2 s of 20 ms packets, then the 100 ms BYE tail of silence; none lost on loopback.
    assert len(before) + len(after) == 105
    assert all(p.payload == bytes([ULAW_SILENCE]) * 160 for p in after[-5:])
    assert after[-6].payload != bytes([ULAW_SILENCE]) * 160
    # One stream that changed address: same SSRC, sequence numbers and timestamps run on.
    packets = before + after
    assert len({p.ssrc for p in packets}) == 1
    for earlier, later in itertools.pairwise(packets):
        assert later.sequence_number == (earlier.sequence_number + 1) % 65536
        assert later.timestamp == (earlier.timestamp + 160) % 2**32
    assert [p.marker for p in packets] == [True] + [False] * 104


@pytest.mark.parametrize(
    ("contact", "record_route", "media_c", "cause"),
    [
        (
            "<tel:+989121234567>",
            None,
            "IN IP4 127.0.0.1",
            "200 OK; unusable answer: Contact '<tel:+989121234567>': "
            "unsupported URI scheme 'tel' (only sip and sips)",
        ),
        (
            None,
            "<sip:{host}:{port};lr",
            "IN IP4 127.0.0.1",
            "200 OK; unusable answer: Record-Route '<sip:127.0.0.1:{port};lr': "
            "missing '>' after the URI",
        ),
        (
            None,
            None,
            "IN IP4 255.255.255.255",
            "488 bad SDP: the answer's media address 255.255.255.255 is not one host",
        ),
        (
            None,
            None,
            "IN IP6 ::1",
            "488 bad SDP: the answer's media address ::1 is IPv6, our RTP socket is IPv4",
        ),
    ],
    ids=["tel Contact", "broken Record-Route", "broadcast media", "IPv6 media"],
)
async def test_unusable_200_is_acked_hung_up_and_an_error(
    sipp_uas: SippFactory,
    contact: str | None,
    record_route: str | None,
    media_c: str,
    cause: str,
) -> None:
    # The callee answered: whatever is wrong with the 200, it gets our ACK and BYE (where
    # the INVITE went when its Contact or Record-Route cannot be used) and the attempt is
    # an ERROR, never a NO_ANSWER that would ring the callee again.
    port = free_ports(1)
    variables = {
        "contact": contact or f"<sip:uas@{HOST}:{port}>",
        "record_route": (record_route or "<sip:{host}:{port};lr>").format(host=HOST, port=port),
        "media_c": media_c,
    }
    uas = sipp_uas("uas_answer_unusable.xml", variables=variables, port=port)
    async with running_dialer(uas.trunk) as dialer:
        async with asyncio.timeout(5.0):  # the BYE leaves at once: no voice is played
            outcome = await dialer.dial(dial_request(tone(1.0)))
        await closed(dialer)
        assert await sipp_result(uas) == 0, uas.diagnostics()  # it got our ACK, then BYE
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, cause.format(port=port))
    assert outcome.answered_at is not None
    check_times(outcome)
    retry = decide(outcome.result, attempts_made=1, retry_count=3, retry_interval=60, ended_at=0)
    assert retry.status is CallStatus.ERROR  # final: the callee is not dialled again


async def test_a_send_that_fails_ends_the_call_at_once() -> None:
    # Without SO_BROADCAST, sendto() to the broadcast address fails with EACCES on our real
    # socket: the INVITE cannot leave, and the call must end there, not ring forever.
    async with running_dialer("sip:255.255.255.255:5060", local_ip=HOST) as dialer:
        async with asyncio.timeout(5.0):  # not the ring timeout, nor Timer B after it
            outcome = await dialer.dial(dial_request(tone(1.0), ring_timeout=2.0))
        await closed(dialer)
    assert (outcome.result, outcome.cause) == (
        AttemptResult.ERROR,
        "send failed: Permission denied",
    )
    assert outcome.answered_at is None
