"""SIP transactions (RFC 3261 §17, with the RFC 6026 "Accepted" state).

Client side: INVITE (Timers A, B, D, M) and non-INVITE (Timers E, F, K) transactions that
retransmit over UDP, absorb retransmitted responses, ACK non-2xx finals themselves and,
when nothing answers, hand their user a synthetic 408 (`local_failure` says why), so the
user has one code path for every ending. Server side: just enough for the requests a
caller receives inside its dialogs (BYE, OPTIONS, re-INVITE): the last response is resent
for each retransmitted request.

Transactions only call `send`; they never read the network. `TransactionLayer` matches
incoming messages to them (§17.1.3, §17.2.3).
"""

from __future__ import annotations

import abc
import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Protocol

from voxcall.dialers.sip.header_values import Via
from voxcall.dialers.sip.headers import Headers
from voxcall.dialers.sip.message import SipRequest, SipResponse
from voxcall.dialers.sip.timers import Timer, TimerValues

log = logging.getLogger("voxcall.sip")

Address = tuple[str, int]
ResponseHandler = Callable[["ClientTransaction", SipResponse], None]

BRANCH_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7 magic cookie
TIMER_B_CAUSE = "Timer B timeout"
TIMER_F_CAUSE = "Timer F timeout"


class Sender(Protocol):
    """The part of a transport a transaction needs."""

    reliable: bool

    def send(self, data: bytes, destination: Address) -> None: ...


class State(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    ACCEPTED = "Accepted"  # RFC 6026: INVITE got a 2xx; more 2xx go up, for re-ACKing
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


def top_via(message: SipRequest | SipResponse) -> Via:
    value = message.headers.get("Via")
    if value is None:
        raise ValueError("message has no Via")
    return Via.parse(value)


def synthetic_response(request: SipRequest, status: int, reason: str) -> SipResponse:
    """A response made up locally (Timer B/F, transport error) for the transaction's user."""
    headers = Headers()
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for value in request.headers.get_all(name):
            headers.add(name, value)
    return SipResponse(status, reason, headers)


def ack_for_non_2xx(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK a client transaction sends for a 300-699 (RFC 3261 §17.1.1.3).

    Hop-by-hop: same Request-URI, top Via (so the same branch), Call-ID, From and CSeq
    number as the INVITE, the To of the response (with its tag), and the INVITE's Route set.
    """
    via = invite.headers.get("Via")
    to = response.headers.get("To")
    if via is None or to is None:
        raise ValueError("ACK needs the INVITE's Via and the response's To")
    number, _method = invite.cseq
    headers = Headers([("Via", via)])
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    for name, value in (
        ("From", invite.headers.get("From")),
        ("To", to),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{number} ACK"),
    ):
        assert value is not None  # From and Call-ID are checked when an INVITE is parsed
        headers.add(name, value)
    return SipRequest("ACK", invite.uri, headers)


class ClientTransaction(abc.ABC):
    """What INVITE and non-INVITE client transactions share."""

    state: State

    def __init__(
        self,
        request: SipRequest,
        destination: Address,
        sender: Sender,
        timers: TimerValues,
        on_response: ResponseHandler,
        on_terminated: Callable[[ClientTransaction], None],
    ) -> None:
        branch = top_via(request).branch
        if branch is None or not branch.startswith(BRANCH_COOKIE):
            raise ValueError(f"client request needs an RFC 3261 branch, got {branch!r}")
        self.request = request
        self.destination = destination
        self.key = (branch, request.method)
        self.local_failure: str | None = None  # set when the final response is synthetic
        self._sender = sender
        self._timers = timers
        self._on_response = on_response
        self._on_terminated = on_terminated
        self._loop = asyncio.get_running_loop()
        self._wire = request.serialize()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key[1]} {self.key[0]} {self.state.value}>"

    def _send_request(self) -> None:
        self._sender.send(self._wire, self.destination)

    def _fail(self, status: int, reason: str, cause: str) -> None:
        log.info("%s %s: %s", self.key[1], self.key[0], cause)
        self.local_failure = cause
        self._terminate()
        self._on_response(self, synthetic_response(self.request, status, reason))

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        self.state = State.TERMINATED
        self._cancel_timers()
        self._on_terminated(self)

    @abc.abstractmethod
    def _cancel_timers(self) -> None: ...

    @abc.abstractmethod
    def start(self) -> None:
        """Send the request and arm the timers."""

    @abc.abstractmethod
    def receive(self, response: SipResponse) -> None:
        """A response matched to this transaction."""

    def transport_failed(self, cause: str) -> None:
        """The transport could not deliver the request (RFC 3261 §8.1.3.1: act as a 503)."""
        if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
            self._fail(503, "Service Unavailable", cause)

    def close(self) -> None:
        """Stop without telling the user (the dialer is shutting down)."""
        self.state = State.TERMINATED
        self._cancel_timers()


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.1 (figure 5) with RFC 6026's Accepted state."""

    def __init__(
        self,
        request: SipRequest,
        destination: Address,
        sender: Sender,
        timers: TimerValues,
        on_response: ResponseHandler,
        on_terminated: Callable[[ClientTransaction], None],
    ) -> None:
        super().__init__(request, destination, sender, timers, on_response, on_terminated)
        self.state = State.CALLING
        self.timer_a = Timer("A", self._loop, self._timer_a_expired)  # INVITE retransmit
        self.timer_b = Timer("B", self._loop, self._timer_b_expired)  # INVITE timeout
        self.timer_d = Timer("D", self._loop, self._terminate)  # wait for response retransmits
        self.timer_m = Timer("M", self._loop, self._terminate)  # RFC 6026: wait for 2xx retransmits
        self.ack: SipRequest | None = None  # the ACK for a non-2xx, resent per retransmission
        self._ack_wire = b""

    def start(self) -> None:
        # Timers first: a send that fails at once terminates the transaction inside
        # _send_request, and that must cancel them rather than be followed by their start.
        if not self._sender.reliable:
            self.timer_a.start(self._timers.t1)
        self.timer_b.start(self._timers.transaction_timeout)
        self._send_request()

    def _timer_a_expired(self) -> None:
        if self.state is State.CALLING:
            self.timer_a.start(2 * self.timer_a.delay)
            self._send_request()

    def _timer_b_expired(self) -> None:
        if self.state is State.CALLING:
            self._fail(408, "Request Timeout", TIMER_B_CAUSE)

    def receive(self, response: SipResponse) -> None:
        status = response.status_code
        if self.state in (State.CALLING, State.PROCEEDING):
            self.timer_a.cancel()
            self.timer_b.cancel()  # it only matters in Calling
            if status < 200:
                self.state = State.PROCEEDING
            elif status < 300:
                self.state = State.ACCEPTED
                self.timer_m.start(self._timers.transaction_timeout)
            else:
                self.state = State.COMPLETED
                self.ack = ack_for_non_2xx(self.request, response)
                self._ack_wire = self.ack.serialize()
                self._sender.send(self._ack_wire, self.destination)
                self._complete_after(self._timers.wait_for_retransmissions(self._sender.reliable))
            self._on_response(self, response)
        elif self.state is State.ACCEPTED:
            if 200 <= status < 300:
                self._on_response(self, response)  # a retransmission or a fork: the TU ACKs
        elif self.state is State.COMPLETED and status >= 300:
            self._sender.send(self._ack_wire, self.destination)

    def _complete_after(self, delay: float) -> None:
        if delay > 0:
            self.timer_d.start(delay)
        else:
            self._terminate()

    def _cancel_timers(self) -> None:
        for timer in (self.timer_a, self.timer_b, self.timer_d, self.timer_m):
            timer.cancel()


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.2 (figure 6)."""

    def __init__(
        self,
        request: SipRequest,
        destination: Address,
        sender: Sender,
        timers: TimerValues,
        on_response: ResponseHandler,
        on_terminated: Callable[[ClientTransaction], None],
    ) -> None:
        super().__init__(request, destination, sender, timers, on_response, on_terminated)
        self.state = State.TRYING
        self.timer_e = Timer("E", self._loop, self._timer_e_expired)  # request retransmit
        self.timer_f = Timer("F", self._loop, self._timer_f_expired)  # request timeout
        self.timer_k = Timer("K", self._loop, self._terminate)  # wait for response retransmits

    def start(self) -> None:
        if not self._sender.reliable:  # timers first, as in InviteClientTransaction.start
            self.timer_e.start(self._timers.t1)
        self.timer_f.start(self._timers.transaction_timeout)
        self._send_request()

    def _timer_e_expired(self) -> None:
        if self.state is State.TRYING:
            self.timer_e.start(min(2 * self.timer_e.delay, self._timers.t2))
            self._send_request()
        elif self.state is State.PROCEEDING:
            self.timer_e.start(self._timers.t2)
            self._send_request()

    def _timer_f_expired(self) -> None:
        if self.state in (State.TRYING, State.PROCEEDING):
            self._fail(408, "Request Timeout", TIMER_F_CAUSE)

    def receive(self, response: SipResponse) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return  # Completed absorbs retransmitted finals
        if response.status_code < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self.timer_e.cancel()
            self.timer_f.cancel()
            delay = self._timers.wait_for_stray(self._sender.reliable)
            if delay > 0:
                self.timer_k.start(delay)
            else:
                self._terminate()
        self._on_response(self, response)

    def _cancel_timers(self) -> None:
        for timer in (self.timer_e, self.timer_f, self.timer_k):
            timer.cancel()


def stamp_via(via: Via, source: Address) -> Via:
    """The top Via of a received request with received/rport filled in (RFC 3261 §18.2.1,
    RFC 3581 §4), as the responses must carry it."""
    params = dict(via.params)
    if "rport" in params:
        params["rport"] = str(source[1])
        params["received"] = source[0]
    elif via.host != source[0]:
        params["received"] = source[0]
    return Via(via.transport, via.host, via.port, params)


def response_destination(via: Via, source: Address, reliable: bool) -> Address:
    """Where a response goes (RFC 3261 §18.2.2, RFC 3581): back to the source address,
    at the Via port unless the client asked for rport (or the transport is a stream)."""
    if reliable or "rport" in via.params:
        return source
    return source[0], via.port or 5060


class ServerTransaction:
    """A received request and the responses to it (RFC 3261 §17.2, condensed).

    Non-INVITE (BYE, OPTIONS, CANCEL): the final response is resent for every retransmitted
    request until Timer J. INVITE (re-INVITE): the final response is retransmitted on Timer
    G until the ACK arrives, for at most 64*T1 (Timer H for a non-2xx; for a 2xx the same
    job is the UAS core's in RFC 3261 §13.3.1.4 and Timer L's in RFC 6026).
    """

    def __init__(
        self,
        request: SipRequest,
        source: Address,
        sender: Sender,
        timers: TimerValues,
        on_terminated: Callable[[ServerTransaction], None],
    ) -> None:
        via = top_via(request)
        self.request = request
        self.source = source
        self.key = server_key(request, via)
        self.state = State.TRYING if request.method != "INVITE" else State.PROCEEDING
        self.response: SipResponse | None = None
        self._via = stamp_via(via, source)
        self._destination = response_destination(via, source, sender.reliable)
        self._sender = sender
        self._timers = timers
        self._on_terminated = on_terminated
        self._wire = b""
        loop = asyncio.get_running_loop()
        self.timer_g = Timer("G", loop, self._timer_g_expired)  # response retransmit (INVITE)
        self.timer_h = Timer("H", loop, self._terminate)  # give up waiting for the ACK
        self.timer_i = Timer("I", loop, self._terminate)  # absorb ACK retransmissions
        self.timer_j = Timer("J", loop, self._terminate)  # absorb request retransmissions

    def __repr__(self) -> str:
        return f"<ServerTransaction {self.request.method} {self.key[0]} {self.state.value}>"

    def respond(self, response: SipResponse) -> None:
        """Send a response built for this request (its top Via is replaced by the stamped one)."""
        if self.state not in (State.TRYING, State.PROCEEDING):
            raise RuntimeError(f"{self!r} already has its final response")
        vias = response.headers.get_all("Via")
        response.headers.set("Via", ", ".join([str(self._via), *vias[1:]]))
        self.response = response
        self._wire = response.serialize()
        self._sender.send(self._wire, self._destination)
        if response.status_code < 200:
            self.state = State.PROCEEDING
            return
        reliable = self._sender.reliable
        if self.request.method != "INVITE":
            self.state = State.COMPLETED
            self._finish_after(self.timer_j, 0.0 if reliable else self._timers.transaction_timeout)
            return
        self.state = State.ACCEPTED if response.status_code < 300 else State.COMPLETED
        if not reliable:
            self.timer_g.start(self._timers.t1)
        self.timer_h.start(self._timers.transaction_timeout)

    def retransmission_received(self) -> None:
        if self._wire and self.state in (State.PROCEEDING, State.ACCEPTED, State.COMPLETED):
            self._sender.send(self._wire, self._destination)

    def ack_received(self) -> None:
        self.timer_g.cancel()
        if self.state is State.COMPLETED and self.request.method == "INVITE":
            self.state = State.CONFIRMED
            self.timer_h.cancel()
            self._finish_after(self.timer_i, self._timers.wait_for_stray(self._sender.reliable))
        # Accepted stays until Timer H/L: retransmitted INVITEs still get the 2xx again.

    def _timer_g_expired(self) -> None:
        if self.state in (State.ACCEPTED, State.COMPLETED):
            self._sender.send(self._wire, self._destination)
            self.timer_g.start(min(2 * self.timer_g.delay, self._timers.t2))

    def _finish_after(self, timer: Timer, delay: float) -> None:
        if delay > 0:
            timer.start(delay)
        else:
            self._terminate()

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        if self.state is State.ACCEPTED and self.timer_g.running:
            log.info("%s: no ACK for our 2xx", self)
        self.state = State.TERMINATED
        self.close()
        self._on_terminated(self)

    def close(self) -> None:
        for timer in (self.timer_g, self.timer_h, self.timer_i, self.timer_j):
            timer.cancel()


ServerKey = tuple[str, str, str]


def server_key(request: SipRequest, via: Via) -> ServerKey:
    """RFC 3261 §17.2.3: branch, sent-by and method (ACK matches its INVITE)."""
    method = "INVITE" if request.method == "ACK" else request.method
    sent_by = f"{via.host}:{via.port or 5060}"
    return via.branch or "", sent_by, method


class TransactionLayer:
    """Creates transactions and routes each received message to its own."""

    def __init__(self, sender: Sender, timers: TimerValues) -> None:
        self.timers = timers
        self._sender = sender
        self._clients: dict[tuple[str, str], ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    def send_request(
        self, request: SipRequest, destination: Address, on_response: ResponseHandler
    ) -> ClientTransaction:
        kind = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        tx = kind(request, destination, self._sender, self.timers, on_response, self._forget)
        if tx.key in self._clients:
            raise ValueError(f"a transaction with branch {tx.key[0]} already exists")
        self._clients[tx.key] = tx
        tx.start()
        return tx

    def abandon(self, tx: ClientTransaction) -> None:
        """Drop a transaction that will never complete (an INVITE whose CANCEL went unheard)."""
        tx.close()
        self._forget(tx)

    def _forget(self, tx: ClientTransaction) -> None:
        if self._clients.get(tx.key) is tx:
            del self._clients[tx.key]

    def response_received(self, response: SipResponse) -> bool:
        """Hand a response to its client transaction; False if it has none (RFC 3261 §17.1.3)."""
        branch = top_via(response).branch
        _number, method = response.cseq
        tx = self._clients.get((branch or "", method))
        if tx is None:
            return False
        tx.receive(response)
        return True

    def request_received(self, request: SipRequest, source: Address) -> ServerTransaction | None:
        """A new server transaction for a new request; None when the request belongs to one
        that exists (a retransmission, or the ACK for a non-2xx), which then handles it.

        An ACK for a 2xx matches nothing and also yields None: the caller routes it to the
        dialog (check `request.method`).
        """
        key = server_key(request, top_via(request))
        existing = self._servers.get(key)
        if request.method == "ACK":
            if existing is not None:
                existing.ack_received()
            return None
        if existing is not None:
            existing.retransmission_received()
            return None
        stx = ServerTransaction(request, source, self._sender, self.timers, self._forget_server)
        self._servers[key] = stx
        return stx

    def find_server(self, key: ServerKey) -> ServerTransaction | None:
        return self._servers.get(key)

    def _forget_server(self, stx: ServerTransaction) -> None:
        if self._servers.get(stx.key) is stx:
            del self._servers[stx.key]

    def transport_failed(self, destination: Address | None, cause: str) -> None:
        """Fail the pending client transactions sent to `destination` (None: to anywhere)."""
        for tx in list(self._clients.values()):
            if destination is None or tx.destination == destination:
                tx.transport_failed(cause)

    def close(self) -> None:
        for tx in self._clients.values():
            tx.close()
        for stx in self._servers.values():
            stx.close()
        self._clients.clear()
        self._servers.clear()
