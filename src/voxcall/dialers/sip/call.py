"""One outgoing call: a state machine from INVITE to the last BYE response.

Everything that happens to a call arrives as an event (a response, a timer, the end of the
voice, a request from the callee) and moves it through `CallState` by `_transition`, which
logs every move and refuses the ones the table does not allow. The call never reads the
network and owns no task: the user agent core and the loop call into it.

The outcome is known (and `outcome` resolved) as soon as the call's fate is settled, e.g.
when our BYE leaves; the call itself lives on until that BYE is answered, so the callee's
retransmissions and requests still find it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time

from voxcall.dialers.base import AttemptOutcome, DialRequest
from voxcall.dialers.sip.call_media import CallMedia, encode
from voxcall.dialers.sip.config import CallSettings
from voxcall.dialers.sip.dialog import (
    ALLOW,
    Dialog,
    InviteTemplate,
    cancel_for,
    new_call_id,
    new_tag,
    response_to,
    tag_of,
)
from voxcall.dialers.sip.digest import authorization, authorize, select_challenge
from voxcall.dialers.sip.dtmf_info import is_key_press, parse_key_press
from voxcall.dialers.sip.inbound import MediaEvent
from voxcall.dialers.sip.interaction import Interaction
from voxcall.dialers.sip.keys import KEY
from voxcall.dialers.sip.listeners import Receiver
from voxcall.dialers.sip.machine import ANSWERED_BY, GREETING_END, MachineDetectionFlow
from voxcall.dialers.sip.media import SAMPLE_RATE, Pacer, PlaybackReport, RtpPortPool
from voxcall.dialers.sip.message import SipRequest, SipResponse
from voxcall.dialers.sip.outcome import CallRecord, Ending, attempt_outcome
from voxcall.dialers.sip.sdp import (
    MediaTarget,
    NoCommonCodec,
    answer_direction,
    build_offer,
    check_answer_destination,
    negotiate,
    read_reoffer,
)
from voxcall.dialers.sip.timers import Timer
from voxcall.dialers.sip.transaction import (
    TIMER_B_CAUSE,
    Address,
    ClientTransaction,
    ServerTransaction,
)
from voxcall.dialers.sip.ua import UserAgent

log = logging.getLogger("voxcall.sip")

_AUTH_HEADERS = {
    401: ("WWW-Authenticate", "Authorization"),
    407: ("Proxy-Authenticate", "Proxy-Authorization"),
}


class CallState(enum.Enum):
    NEW = "new"
    CALLING = "calling"  # INVITE sent, no response yet
    PROCEEDING = "proceeding"  # a provisional response came (100, 180, 183)
    CANCELLING = "cancelling"  # giving up before an answer: CANCEL sent, or due at the first 1xx
    CONFIRMED = "confirmed"  # 2xx ACKed; the voice is playing
    TERMINATING = "terminating"  # our BYE is out, its response not yet in
    TERMINATED = "terminated"


_S = CallState
TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    _S.NEW: frozenset({_S.CALLING, _S.TERMINATED}),
    # CALLING -> CALLING and PROCEEDING -> CALLING: the INVITE again, with credentials.
    _S.CALLING: frozenset(
        {_S.CALLING, _S.PROCEEDING, _S.CANCELLING, _S.CONFIRMED, _S.TERMINATING, _S.TERMINATED}
    ),
    _S.PROCEEDING: frozenset(
        {_S.CALLING, _S.CANCELLING, _S.CONFIRMED, _S.TERMINATING, _S.TERMINATED}
    ),
    # CANCELLING -> TERMINATING: a 200 crossed our CANCEL, so ACK and BYE it.
    _S.CANCELLING: frozenset({_S.TERMINATING, _S.TERMINATED}),
    _S.CONFIRMED: frozenset({_S.TERMINATING, _S.TERMINATED}),
    _S.TERMINATING: frozenset({_S.TERMINATED}),
    _S.TERMINATED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A move the TRANSITIONS table does not allow: a bug, never the far end's doing."""


class Call:
    """One attempt: `start()` sends the INVITE, `outcome` resolves once its fate is known.
    What it plays and hears after the answer is its `Interaction`'s to decide (CallControl)."""

    def __init__(
        self,
        ua: UserAgent,
        settings: CallSettings,
        pacer: Pacer,
        ports: RtpPortPool,
        request: DialRequest,
        receiver: Receiver | None = None,
    ) -> None:
        self.call_id = new_call_id()
        self.state = CallState.NEW
        self.number = request.national_number
        self._ring_timeout = request.ring_timeout
        # Dropped once encoded or when the call ends: a finished call may stay referenced by
        # its INVITE transaction for 64*T1, and at 100 calls/s the voices would add up.
        self._pcm: bytes | None = request.voice.pcm
        loop = asyncio.get_running_loop()
        self.outcome: asyncio.Future[AttemptOutcome] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()  # set when TERMINATED
        self._ua = ua
        self._settings = settings
        self._media = CallMedia(pacer, ports, receiver, self.call_id)
        self._interaction = Interaction(request.gather, self, loop)
        self._machine = MachineDetectionFlow(
            request.machine_detection,
            settings.amd,
            loop,
            start_message=self._interaction.answered,
            hang_up=lambda detail: self._hang_up(Ending.MACHINE, detail),
            call_id=self.call_id,
        )
        self.ring_timer = Timer("ring timeout", loop, self._ring_timeout_expired)
        # RFC 3261 §9.1: with no final response 64*T1 after the CANCEL, give the INVITE up.
        self.cancel_timer = Timer("final after CANCEL", loop, self._cancel_timer_expired)
        self._started_at = 0.0
        self._answered_at: float | None = None
        self._status: tuple[int, str] | None = None
        self._template: InviteTemplate | None = None
        self._cseq = 0
        self._credentials: dict[str, str] = {}
        self._challenged: set[int] = set()  # 401 and/or 407: answered once each
        self._bye_challenged = False  # our BYE was sent again with credentials
        self._invite: SipRequest | None = None
        self._invite_tx: ClientTransaction | None = None
        self._cancel_sent = False
        self._dialog: Dialog | None = None
        self._ack: tuple[bytes, Address] | None = None
        self._session_id = secrets.randbits(31)
        self._sdp_version = 1
        self._reinvite: ServerTransaction | None = None

    def __repr__(self) -> str:
        return f"<Call {self.call_id} to {self.number} {self.state.value}>"

    # -- the state machine ------------------------------------------------------------------

    def _transition(self, new: CallState) -> None:
        old = self.state
        if new not in TRANSITIONS[old]:
            raise IllegalTransition(f"call {self.call_id}: {old.value} -> {new.value}")
        log.debug("call %s: %s -> %s", self.call_id, old.value, new.value)
        self.state = new
        if new is CallState.TERMINATED:
            self._release()

    def _finish(
        self,
        ending: Ending,
        next_state: CallState,
        *,
        detail: str = "",
        status: tuple[int, str] | None = None,
    ) -> None:
        """Settle the outcome (once) and move on."""
        self.ring_timer.cancel()
        self._interaction.close()
        self._machine.close()
        self._media.close()
        if not self.outcome.done():
            code, reason = status or self._status or (None, "")
            record = CallRecord(
                ending=ending,
                started_at=self._started_at,
                ended_at=time.time(),
                status=code,
                reason=reason,
                answered_at=self._answered_at,
                detail=detail,
                digits=self._interaction.digits,
                answered_by=self._machine.outcome,
            )
            outcome = attempt_outcome(record)
            log.info(
                "call %s to %s: %s %s",
                self.call_id,
                self.number,
                outcome.result.value,
                outcome.cause,
            )
            self.outcome.set_result(outcome)
        self._transition(next_state)

    def _release(self) -> None:
        for timer in (self.ring_timer, self.cancel_timer):
            timer.cancel()
        self._interaction.close()
        self._machine.close()
        self._media.close()
        self._pcm = None
        if self._ua.calls.get(self.call_id) is self:
            del self._ua.calls[self.call_id]
        if not self.closed.done():
            self.closed.set_result(None)

    # -- placing the call -------------------------------------------------------------------

    def start(self) -> None:
        self._started_at = time.time()
        try:
            port = self._media.open()
        except (OSError, RuntimeError) as exc:
            self._finish(Ending.LOCAL_FAILURE, CallState.TERMINATED, detail=f"no RTP port: {exc}")
            return
        settings = self._settings
        sdp = build_offer(settings.media_ip, port, settings.codecs, self._session_id)
        request_uri = f"sip:{self.number}@{settings.request_host}"
        self._template = InviteTemplate(
            request_uri=request_uri,
            from_address=f"{settings.from_address};tag={new_tag()}",
            to_address=f"<{request_uri}>",
            call_id=self.call_id,
            contact=self._ua.local.contact(settings.contact_user),
            sdp=sdp.encode(),
        )
        self._ua.calls[self.call_id] = self
        self.ring_timer.start(self._ring_timeout)
        self._send_invite()

    def _send_invite(self) -> None:
        """Everything the INVITE's answer relies on is set before it is sent: a send that
        fails does so inside send_request, which hands its synthetic 503 back at once."""
        assert self._template is not None
        self._cseq += 1
        self._invite = self._template.build(self._ua.local.via(), self._cseq, self._credentials)
        self._transition(CallState.CALLING)
        self._invite_tx = self._ua.transactions.send_request(
            self._invite, self._settings.destination, self._invite_response
        )

    def _invite_response(self, tx: ClientTransaction, response: SipResponse) -> None:
        if tx.request is not self._invite:
            return  # the INVITE before an auth retry: that transaction ACKed its 401/407
        status = response.status_code
        if status < 200:
            self._provisional()
        elif status < 300:
            self._answered(response)
        else:
            self._failed(tx, response)

    def _provisional(self) -> None:
        if self.state is CallState.CALLING:
            self._transition(CallState.PROCEEDING)
        elif self.state is CallState.CANCELLING and not self._cancel_sent:
            self._send_cancel()

    def _failed(self, tx: ClientTransaction, response: SipResponse) -> None:
        status = (response.status_code, response.reason)
        if self.state not in (CallState.CALLING, CallState.PROCEEDING, CallState.CANCELLING):
            return
        if tx.local_failure is not None:
            ending = Ending.TIMER_B if tx.local_failure == TIMER_B_CAUSE else Ending.UNREACHABLE
            self._finish(ending, CallState.TERMINATED, detail=tx.local_failure)
        elif self.state is CallState.CANCELLING:
            self._finish(Ending.RING_TIMEOUT, CallState.TERMINATED, status=status)
        elif not self._authenticate(response):
            self._finish(Ending.REJECTED, CallState.TERMINATED, status=status)

    def _authenticate(self, response: SipResponse) -> bool:
        """Send the INVITE again with credentials for a 401/407, once per kind (RFC 3261 §22.2)."""
        status = response.status_code
        username, password = self._settings.username, self._settings.password
        if status not in _AUTH_HEADERS or status in self._challenged:
            return False
        if username is None or password is None:
            return False
        challenge_header, credentials_header = _AUTH_HEADERS[status]
        assert self._template is not None
        try:
            challenge = select_challenge(response.headers.get_all(challenge_header))
            credentials = authorization(
                challenge,
                method="INVITE",
                uri=self._template.request_uri,
                username=username,
                password=password,
            )
        except ValueError as exc:
            log.info("call %s: cannot answer the %d: %s", self.call_id, status, exc)
            return False
        self._challenged.add(status)
        self._credentials[credentials_header] = credentials
        self._send_invite()
        return True

    # -- answered -----------------------------------------------------------------------------

    def _answered(self, response: SipResponse) -> None:
        if self._dialog is not None:
            self._another_2xx(response)
            return
        if self.state not in (CallState.CALLING, CallState.PROCEEDING, CallState.CANCELLING):
            return  # abandoned: the dialer is closing
        self._dialog, problem = self._dialog_for(response)
        self._answered_at = time.time()
        self._status = (response.status_code, response.reason)
        self.cancel_timer.cancel()
        self._send_ack()
        if problem is not None:
            self._hang_up(Ending.BAD_ANSWER, problem)
            return
        if self.state is CallState.CANCELLING:
            self._hang_up(Ending.RING_TIMEOUT, "answered after CANCEL")
            return
        try:
            target = negotiate(response.body.decode("utf-8", "replace"), self._settings.codecs)
            check_answer_destination(target, self._media.ip_version)
            assert self._pcm is not None
            tail = bytes(2 * round(self._settings.bye_tail * SAMPLE_RATE))  # 16-bit silence
            payload = encode(self._pcm + tail, target.codec)
            self._pcm = None
        except ValueError as exc:
            log.info("call %s: unusable SDP answer: %s", self.call_id, exc)
            detail = "no common codec" if isinstance(exc, NoCommonCodec) else f"bad SDP: {exc}"
            self._hang_up(Ending.MEDIA_FAILURE, detail)
            return
        self._media.connect(target, payload, self._playback_done)
        self.ring_timer.cancel()
        self._transition(CallState.CONFIRMED)
        self._media.listen(
            {**self._interaction.listeners, **self._machine.listeners}, self._media_event
        )
        self._machine.answered()  # it starts the interaction when the message may begin

    def _dialog_for(self, response: SipResponse) -> tuple[Dialog, str | None]:
        """The dialog of a 2xx, and what makes it unusable (None if nothing does). Unusable,
        it is still ACKed and BYEd, through the trunk: the callee did answer, and a 2xx left
        unanswered keeps the call up on the trunk's side."""
        assert self._invite is not None
        try:
            return Dialog.from_2xx(self._invite, response), None
        except ValueError as exc:
            log.info("call %s: unusable %d: %s", self.call_id, response.status_code, exc)
            return Dialog.towards_trunk(self._invite, response), f"unusable answer: {exc}"

    def _send_ack(self) -> None:
        assert self._dialog is not None and self._invite is not None
        ack, destination = self._dialog.ack(self._invite, self._ua.local.via())
        self._ack = (ack.serialize(), destination)
        self._ua.send(*self._ack)

    def _another_2xx(self, response: SipResponse) -> None:
        """A 2xx after the first: a retransmission (our ACK was lost) or another fork."""
        assert self._dialog is not None and self._invite is not None
        if tag_of(response.headers.get("To") or "") == self._dialog.remote_tag:
            if self._ack is not None:
                self._ua.send(*self._ack)
            return
        # RFC 3261 §13.2.2.4: a second dialog we do not want: ACK it, then BYE it.
        fork, _problem = self._dialog_for(response)
        ack, destination = fork.ack(self._invite, self._ua.local.via())
        self._ua.send(ack.serialize(), destination)
        bye, destination = fork.request("BYE", self._ua.local.via())
        self._ua.transactions.send_request(bye, destination, lambda tx, response: None)

    def _playback_done(self, playback: asyncio.Future[PlaybackReport]) -> None:
        if playback.cancelled() or self.state is not CallState.CONFIRMED:
            return
        error = playback.exception()
        if error is not None:
            log.warning("call %s: RTP stopped: %s", self.call_id, error)
            self._hang_up(Ending.HANGUP, f"media error: {error}")
            return
        report = playback.result()
        if report.packets_skipped:
            log.info("call %s: %d RTP packets skipped", self.call_id, report.packets_skipped)
        self._interaction.message_ended()

    def _media_event(self, event: MediaEvent) -> None:
        if self.state is CallState.CONFIRMED and event.kind == KEY:
            log.info("call %s: key %s (%s)", self.call_id, event.value, event.detail)
            self._interaction.key(event.value, event.detail, time.monotonic())
        elif self.state is CallState.CONFIRMED and event.kind in (ANSWERED_BY, GREETING_END):
            self._machine.event(event)
            if not self._machine.listening and not self._interaction.listeners:
                self._media.unlisten()  # reading the rest of the call's RTP would be waste

    # -- CallControl: what the interaction asks -------------------------------------------------

    def play_message(self) -> None:
        self._media.play()

    def stop_message(self) -> None:
        self._media.stop_playing()

    def end_call(self, detail: str) -> None:
        if self.state is CallState.CONFIRMED:
            if not self._machine.hold_hang_up(lambda: self.end_call(detail)):
                self._hang_up(Ending.HANGUP, detail)

    def _hang_up(self, ending: Ending, detail: str) -> None:
        """BYE the dialog and settle the outcome; the call ends when the BYE is answered
        (at once, if the BYE cannot be sent: so it is TERMINATING before the send)."""
        assert self._dialog is not None
        bye, destination = self._dialog.request("BYE", self._ua.local.via())
        self._finish(ending, CallState.TERMINATING, detail=detail)
        self._ua.transactions.send_request(bye, destination, self._bye_response)

    def _bye_response(self, tx: ClientTransaction, response: SipResponse) -> None:
        status = response.status_code
        if status < 200 or self.state is not CallState.TERMINATING:
            return
        if status in _AUTH_HEADERS:
            if self._authenticate_bye(tx.request, response):
                return
        elif status >= 300:
            log.info(
                "call %s: BYE answered %d %s",
                self.call_id,
                status,
                tx.local_failure or response.reason,
            )
        self._transition(CallState.TERMINATED)

    def _authenticate_bye(self, bye: SipRequest, challenge: SipResponse) -> bool:
        """Send the BYE again with credentials for a 401/407 (RFC 3261 §22.2), once: a trunk
        that refuses our BYE keeps the call up and bills it. The outcome was settled when the
        first BYE left and stays as it is."""
        status = challenge.status_code
        username, password = self._settings.username, self._settings.password
        if self._bye_challenged:
            reason = "challenged again"
        elif username is None or password is None:
            reason = "challenged and we have no credentials"
        else:
            assert self._dialog is not None  # a BYE was sent in it
            retry, destination = self._dialog.request("BYE", self._ua.local.via())
            try:
                retry = authorize(retry, challenge, username=username, password=password)
            except ValueError as exc:
                reason = f"challenged and we cannot answer: {exc}"
            else:
                self._bye_challenged = True
                self._ua.transactions.send_request(retry, destination, self._bye_response)
                return True
        log.warning(
            "call %s: BYE %s (%d %s); the trunk may keep the call up",
            self.call_id,
            reason,
            status,
            challenge.reason,
        )
        return False

    # -- giving up before an answer --------------------------------------------------------------

    def _ring_timeout_expired(self) -> None:
        if self.state in (CallState.CALLING, CallState.PROCEEDING):
            log.debug("call %s: ring timeout", self.call_id)
            self._cancel()

    def _cancel(self) -> None:
        was = self.state
        self._transition(CallState.CANCELLING)
        if was is CallState.PROCEEDING:
            self._send_cancel()
        # else RFC 3261 §9.1: no CANCEL before a provisional response; _provisional sends it.

    def _send_cancel(self) -> None:
        assert self._invite is not None
        self._cancel_sent = True
        # Before the send: a CANCEL that cannot be sent fails the INVITE too (same
        # destination), which ends the call and must find no timer started after it.
        self.cancel_timer.start(self._ua.transactions.timers.transaction_timeout)
        self._ua.transactions.send_request(
            cancel_for(self._invite), self._settings.destination, lambda tx, response: None
        )

    def _cancel_timer_expired(self) -> None:
        if self.state is CallState.CANCELLING:
            if self._invite_tx is not None:
                self._ua.transactions.abandon(self._invite_tx)
            self._finish(
                Ending.RING_TIMEOUT, CallState.TERMINATED, detail="no final response after CANCEL"
            )

    def hang_up(self) -> None:
        """Whatever the state, make sure the far end is told (the dial was cancelled)."""
        if self.state is CallState.NEW:
            self._finish(Ending.LOCAL_FAILURE, CallState.TERMINATED, detail="hung up before INVITE")
        elif self.state in (CallState.CALLING, CallState.PROCEEDING):
            self._cancel()
        elif self.state is CallState.CONFIRMED:
            self._hang_up(Ending.HANGUP, "hung up by voxcall")

    def abandon(self) -> None:
        """Stop without telling the far end any more (the dialer is closing)."""
        if self._invite_tx is not None:
            self._ua.transactions.abandon(self._invite_tx)
        if self.state is not CallState.TERMINATED:
            self._finish(Ending.LOCAL_FAILURE, CallState.TERMINATED, detail="dialer closed")

    # -- requests from the callee --------------------------------------------------------------

    def request_received(self, request: SipRequest, transaction: ServerTransaction) -> None:
        dialog = self._dialog
        if dialog is None or not dialog.matches(request):
            transaction.respond(
                response_to(request, 481, "Call/Transaction Does Not Exist", to_tag=new_tag())
            )
            return
        if not dialog.accept_remote_cseq(request):
            transaction.respond(response_to(request, 500, "CSeq Out of Order"))
            return
        method = request.method
        if method == "BYE":
            transaction.respond(response_to(request, 200, "OK"))
            if self.state is CallState.CONFIRMED:
                self._finish(Ending.HANGUP, CallState.TERMINATED, detail="callee hung up")
        elif method in ("INVITE", "UPDATE"):
            if method == "INVITE":
                self._reinvite = transaction  # its ACK ends the retransmission of our 2xx
            response, target = self._answer_session(request)
            transaction.respond(response)
            if target is not None:
                self._media.follow(target)
        elif method == "INFO" and is_key_press(request.headers.get("Content-Type")):
            self._info_key(request, transaction)
        elif method in ("OPTIONS", "INFO"):
            headers = [("Allow", ALLOW), ("Accept", "application/sdp")]
            transaction.respond(response_to(request, 200, "OK", headers=headers))
        else:
            transaction.respond(
                response_to(request, 405, "Method Not Allowed", headers=[("Allow", ALLOW)])
            )

    def _answer_session(self, request: SipRequest) -> tuple[SipResponse, MediaTarget | None]:
        """The answer to a re-INVITE or an UPDATE (RFC 3311) and the media its offer asks for
        (None without an offer, which leaves the media as it is): 200 with our SDP, or 488 if
        the offer drops the codec we send. An UPDATE without an offer (a session-timer
        refresh) gets a 200 without a body: it did not ask for one, while a re-INVITE
        without an offer asks for ours (RFC 3311 §5.2, RFC 3261 §14.2)."""
        headers = [
            ("Contact", self._ua.local.contact(self._settings.contact_user)),
            ("Allow", ALLOW),
        ]
        if request.method == "UPDATE" and not request.body:
            return response_to(request, 200, "OK", headers=headers), None
        current = self._media.target
        codecs = (current.codec,) if current is not None else self._settings.codecs
        target = None
        direction = "sendrecv"
        if request.body:
            try:
                target = read_reoffer(request.body.decode("utf-8", "replace"), codecs)
            except ValueError as exc:
                log.info("call %s: refusing the %s offer: %s", self.call_id, request.method, exc)
                return response_to(request, 488, "Not Acceptable Here"), None
            direction = answer_direction(target.direction)
        port = self._media.port or 9  # 9: discard
        self._sdp_version += 1
        sdp = build_offer(
            self._settings.media_ip, port, codecs, self._session_id, self._sdp_version, direction
        )
        headers.append(("Content-Type", "application/sdp"))
        return response_to(request, 200, "OK", headers=headers, body=sdp.encode()), target

    def _info_key(self, request: SipRequest, transaction: ServerTransaction) -> None:
        """A key press in an INFO (dtmf_info.py): 200, or 400 if its body carries no key."""
        try:
            key = parse_key_press(request.headers.get("Content-Type"), request.body)
        except ValueError as exc:
            transaction.respond(response_to(request, 400, "Bad Request"))
            log.info("call %s: INFO without a key: %s", self.call_id, exc)
            return
        transaction.respond(response_to(request, 200, "OK"))
        if self.state is CallState.CONFIRMED:
            log.info("call %s: key %s (INFO)", self.call_id, key)
            self._interaction.key(key, "info", time.monotonic())

    def ack_received(self, request: SipRequest) -> None:
        if self._reinvite is not None and self._reinvite.request.cseq[0] == request.cseq[0]:
            self._reinvite.ack_received()
