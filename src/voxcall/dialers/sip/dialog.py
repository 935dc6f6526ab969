"""Dialogs and the requests and responses a caller builds (RFC 3261 §8.1.1, §9.1, §12).

Pure: values in, `SipRequest`/`SipResponse` out. A `Dialog` remembers what RFC 3261 §12.1.2
says a UAC keeps from the 2xx (remote tag and target, the route set reversed from
Record-Route, CSeq counters) and builds in-dialog requests with loose or strict routing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from voxcall.dialers.sip.header_values import NameAddress
from voxcall.dialers.sip.headers import Headers
from voxcall.dialers.sip.message import SipRequest, SipResponse
from voxcall.dialers.sip.transaction import BRANCH_COOKIE, Address
from voxcall.dialers.sip.uri import SipUri

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE"
USER_AGENT = "voxcall"


def new_branch() -> str:
    return BRANCH_COOKIE + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class LocalEndpoint:
    """Where we are reachable: the transport name and the address of the SIP socket."""

    transport: str  # "UDP" or "TCP"
    host: str
    port: int

    def via(self) -> str:
        """A top Via for a new client transaction (fresh branch; rport asked, RFC 3581)."""
        return f"SIP/2.0/{self.transport} {self.host}:{self.port};rport;branch={new_branch()}"

    def contact(self, user: str) -> str:
        suffix = ";transport=tcp" if self.transport == "TCP" else ""
        return f"<sip:{user}@{self.host}:{self.port}{suffix}>"


def next_hop(uri: SipUri) -> Address:
    """The address a request for `uri` is sent to (its maddr, else its host; port 5060)."""
    host = uri.params.get("maddr") or uri.host
    return host, uri.port or 5060


def tag_of(address: str) -> str | None:
    return NameAddress.parse(address).tag


def response_to(
    request: SipRequest,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """A response echoing the request's Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2);
    `to_tag` is added unless the To already has a tag (an in-dialog request)."""
    out = Headers()
    for value in request.headers.get_all("Via"):
        out.add("Via", value)
    to = request.headers.get("To") or ""
    if to_tag is not None and tag_of(to) is None:
        to = f"{to};tag={to_tag}"
    for name, value in (
        ("From", request.headers.get("From") or ""),
        ("To", to),
        ("Call-ID", request.call_id),
        ("CSeq", request.headers.get("CSeq") or ""),
    ):
        out.add(name, value)
    for name, value in headers:
        out.add(name, value)
    return SipResponse(status, reason, out, body)


@dataclass(frozen=True, slots=True)
class InviteTemplate:
    """What stays the same across the INVITEs of one call (auth retries change only the
    Via branch, the CSeq and the credentials, RFC 3261 §22.2)."""

    request_uri: str
    from_address: str  # with our tag
    to_address: str
    call_id: str
    contact: str
    sdp: bytes

    def build(self, via: str, cseq: int, credentials: Mapping[str, str]) -> SipRequest:
        headers = Headers(
            [
                ("Via", via),
                ("Max-Forwards", "70"),
                ("From", self.from_address),
                ("To", self.to_address),
                ("Call-ID", self.call_id),
                ("CSeq", f"{cseq} INVITE"),
                ("Contact", self.contact),
                ("Allow", ALLOW),
                ("User-Agent", USER_AGENT),
                *credentials.items(),
                ("Content-Type", "application/sdp"),
            ]
        )
        return SipRequest("INVITE", self.request_uri, headers, self.sdp)


def cancel_for(invite: SipRequest) -> SipRequest:
    """The CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To,
    CSeq number and top Via (so the same branch), and the same Route headers."""
    via = invite.headers.get("Via")
    assert via is not None  # we built the INVITE
    number, _method = invite.cseq
    headers = Headers([("Via", via)])
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    for name, value in (
        ("Max-Forwards", "70"),
        ("From", invite.headers.get("From") or ""),
        ("To", invite.headers.get("To") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{number} CANCEL"),
        ("User-Agent", USER_AGENT),
    ):
        headers.add(name, value)
    return SipRequest("CANCEL", invite.uri, headers)


@dataclass
class Dialog:
    """The caller's side of a confirmed dialog (RFC 3261 §12.1.2)."""

    call_id: str
    local_address: str  # our From, with our tag
    remote_address: str  # their To, with their tag
    remote_target: SipUri  # the Contact of the 2xx
    route_set: tuple[str, ...]  # Route values, in the order requests carry them
    local_cseq: int
    remote_cseq: int | None = None
    local_tag: str = field(init=False)
    remote_tag: str = field(init=False)

    def __post_init__(self) -> None:
        self.local_tag = tag_of(self.local_address) or ""
        self.remote_tag = tag_of(self.remote_address) or ""

    @classmethod
    def from_2xx(cls, invite: SipRequest, response: SipResponse) -> Dialog:
        """The dialog a 2xx to our INVITE establishes; ValueError, naming the header, if its
        Contact is not a sip: URI or its Record-Route is malformed (`towards_trunk` then
        still reaches the far end). A 2xx without Contact (which RFC 3261 forbids) is taken
        to mean the Request-URI."""
        contact = response.headers.get("Contact")
        target = SipUri.parse(invite.uri)
        if contact:
            try:
                target = NameAddress.parse(contact).uri
            except ValueError as exc:
                raise ValueError(f"Contact {contact[:60]!r}: {exc}") from None
            if target.scheme != "sip":  # sips: needs TLS, which we do not speak
                raise ValueError(f"Contact {contact[:60]!r}: not a sip: URI")
        route_set = tuple(reversed(response.headers.get_all("Record-Route")))
        for route in route_set:
            try:
                NameAddress.parse(route)
            except ValueError as exc:
                raise ValueError(f"Record-Route {route[:60]!r}: {exc}") from None
        return cls._for(invite, response, target, route_set)

    @classmethod
    def towards_trunk(cls, invite: SipRequest, response: SipResponse) -> Dialog:
        """A dialog for a 2xx that `from_2xx` refuses, only to ACK and BYE it: its requests
        go where the INVITE went (its Request-URI, no route set), which a trunk accepts, as
        RFC 3261 gives no other target for them."""
        return cls._for(invite, response, SipUri.parse(invite.uri), ())

    @classmethod
    def _for(
        cls,
        invite: SipRequest,
        response: SipResponse,
        target: SipUri,
        route_set: tuple[str, ...],
    ) -> Dialog:
        number, _method = invite.cseq
        return cls(
            call_id=invite.call_id,
            local_address=invite.headers.get("From") or "",
            remote_address=response.headers.get("To") or "",
            remote_target=target,
            route_set=route_set,
            local_cseq=number,
        )

    def matches(self, request: SipRequest) -> bool:
        """Whether a received request belongs to this dialog (RFC 3261 §12.2.2)."""
        to, sender = request.headers.get("To"), request.headers.get("From")
        return (
            request.call_id == self.call_id
            and to is not None
            and sender is not None
            and tag_of(to) == self.local_tag
            and tag_of(sender) == self.remote_tag
        )

    def accept_remote_cseq(self, request: SipRequest) -> bool:
        """Track the remote CSeq; False for an out-of-order request (answer it 500)."""
        number, _method = request.cseq
        if self.remote_cseq is not None and number <= self.remote_cseq:
            return False
        self.remote_cseq = number
        return True

    def _routing(self) -> tuple[str, list[str], Address]:
        """Request-URI, Route values and next hop (RFC 3261 §12.2.1.1, loose and strict)."""
        target = str(self.remote_target)
        if not self.route_set:
            return target, [], next_hop(self.remote_target)
        first = NameAddress.parse(self.route_set[0]).uri
        if "lr" in first.params:
            return target, list(self.route_set), next_hop(first)
        # Strict router: it gets the request as its Request-URI; the target goes last.
        request_uri = SipUri(first.scheme, first.user, first.password, first.host, first.port)
        request_uri.params = {k: v for k, v in first.params.items() if k != "method"}
        routes = [*self.route_set[1:], f"<{target}>"]
        return str(request_uri), routes, next_hop(first)

    def request(
        self,
        method: str,
        via: str,
        *,
        cseq: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> tuple[SipRequest, Address]:
        """A request inside the dialog and where to send it; a new CSeq unless given (ACK)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        request_uri, routes, destination = self._routing()
        out = Headers([("Via", via)])
        for route in routes:
            out.add("Route", route)
        for name, value in (
            ("Max-Forwards", "70"),
            ("From", self.local_address),
            ("To", self.remote_address),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("User-Agent", USER_AGENT),
            *headers,
        ):
            out.add(name, value)
        return SipRequest(method, request_uri, out, body), destination

    def ack(self, invite: SipRequest, via: str) -> tuple[SipRequest, Address]:
        """The ACK for a 2xx: a new transaction through the route set, the INVITE's CSeq
        number, and the INVITE's credentials (RFC 3261 §13.2.2.4, §22.1)."""
        number, _method = invite.cseq
        credentials = [
            (name, value)
            for name in ("Authorization", "Proxy-Authorization")
            for value in invite.headers.get_all(name)
        ]
        return self.request("ACK", via, cseq=number, headers=credentials)
