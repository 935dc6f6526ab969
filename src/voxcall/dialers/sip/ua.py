"""The user agent core of one dialer: its transport, its transactions and its calls.

`UserAgent.received` is the one boundary where network input meets the protocol code: it
parses, routes, and logs and drops whatever is malformed or makes a handler fail, so one
hostile packet never takes the dialer, or another call, down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from voxcall.dialers.sip.dialog import ALLOW, LocalEndpoint, new_tag, response_to
from voxcall.dialers.sip.message import SipRequest, SipResponse, parse_message
from voxcall.dialers.sip.timers import TimerValues
from voxcall.dialers.sip.transaction import (
    Address,
    ServerTransaction,
    TransactionLayer,
    server_key,
    top_via,
)
from voxcall.dialers.sip.transport import Transport, TransportUser

log = logging.getLogger("voxcall.sip")


class DialogUser(Protocol):
    """A call, as the core sees it: something that takes the requests of its Call-ID."""

    call_id: str

    def request_received(self, request: SipRequest, transaction: ServerTransaction) -> None:
        """A new request with this Call-ID; it must be answered through `transaction`."""

    def ack_received(self, request: SipRequest) -> None:
        """An ACK for a 2xx we sent (to a re-INVITE)."""


def _describe(message: SipRequest | SipResponse) -> str:
    if isinstance(message, SipRequest):
        return f"{message.method} request"
    return f"{message.status_code} response"


class UserAgent:
    def __init__(
        self, make_transport: Callable[[TransportUser], Transport], timers: TimerValues
    ) -> None:
        self.transport = make_transport(self)
        self.transactions = TransactionLayer(self.transport, timers)
        self.calls: dict[str, DialogUser] = {}

    @property
    def local(self) -> LocalEndpoint:
        host, port = self.transport.local_address
        return LocalEndpoint(self.transport.name, host, port)

    def send(self, data: bytes, destination: Address) -> None:
        """Send outside any transaction (the ACK for a 2xx)."""
        self.transport.send(data, destination)

    def received(self, data: bytes | SipRequest | SipResponse, source: Address) -> None:
        if isinstance(data, bytes):
            if not data.strip(b"\r\n"):
                return  # a CRLF keep-alive (RFC 5626 §4.4.1)
            try:
                message = parse_message(data)
            except ValueError as exc:
                log.warning("dropped a malformed message from %s:%d: %s", *source, exc)
                return
        else:
            message = data
        pending: ServerTransaction | None = None
        try:
            if isinstance(message, SipResponse):
                if not self.transactions.response_received(message):
                    log.debug("no transaction for a %s from %s:%d", _describe(message), *source)
                return
            pending = self.transactions.request_received(message, source)
            self._route_request(message, pending)
        except Exception:
            log.exception("dropped a %s from %s:%d", _describe(message), *source)
            if pending is not None and pending.response is None:
                pending.respond(
                    response_to(pending.request, 500, "Server Internal Error", to_tag=new_tag())
                )

    def _route_request(self, request: SipRequest, transaction: ServerTransaction | None) -> None:
        call = self.calls.get(request.call_id)
        if transaction is None:
            # A retransmission its transaction handled, or an ACK: a 2xx ACK goes to its call.
            if request.method == "ACK" and call is not None:
                call.ack_received(request)
            return
        if request.method == "CANCEL":
            # We answer every re-INVITE at once, so a CANCEL never finds anything to stop.
            branch, sent_by, _method = server_key(request, top_via(request))
            found = self.transactions.find_server((branch, sent_by, "INVITE")) is not None
            transaction.respond(
                response_to(request, 200, "OK")
                if found
                else response_to(request, 481, "Call/Transaction Does Not Exist", to_tag=new_tag())
            )
        elif call is not None:
            call.request_received(request, transaction)
        elif request.method == "OPTIONS":
            transaction.respond(
                response_to(
                    request,
                    200,
                    "OK",
                    to_tag=new_tag(),
                    headers=[("Allow", ALLOW), ("Accept", "application/sdp")],
                )
            )
        elif request.method == "INVITE":
            transaction.respond(response_to(request, 603, "Decline", to_tag=new_tag()))
        else:
            transaction.respond(
                response_to(request, 481, "Call/Transaction Does Not Exist", to_tag=new_tag())
            )

    def transport_error(self, destination: Address | None, cause: str) -> None:
        self.transactions.transport_failed(destination, cause)

    def close(self) -> None:
        self.transactions.close()
        self.transport.close()
