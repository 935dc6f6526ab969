"""SDP (RFC 4566) and the part of offer/answer (RFC 3264) an outbound G.711 call needs.

`SessionDescription.parse` checks the structure strictly and keeps attributes in their
order, so a parsed description serializes back to the same text. The lines a call never
uses (u=, e=, p=, r=, z=, k=) are accepted and dropped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class Codec:
    """An RTP payload format: payload type number, encoding name and clock rate."""

    payload_type: int
    name: str
    clock_rate: int = 8000


PCMU = Codec(0, "PCMU")
PCMA = Codec(8, "PCMA")
TELEPHONE_EVENT = Codec(101, "telephone-event")

# RFC 3551 static audio payload types voxcall speaks; an answer may list them without rtpmap.
_STATIC_CODECS = {codec.payload_type: codec for codec in (PCMU, PCMA)}


def codec_by_name(name: str) -> Codec:
    """PCMU or PCMA by name, case-insensitive."""
    for codec in _STATIC_CODECS.values():
        if codec.name.lower() == name.lower():
            return codec
    raise ValueError(f"unknown codec {name!r}: expected PCMU or PCMA")


@dataclass(frozen=True)
class Origin:
    """The o= line: who made the description and which version of the session it is."""

    username: str
    session_id: int
    session_version: int
    address_type: str  # "IP4" or "IP6"
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"IN {self.address_type} {self.address}"
        )


@dataclass(frozen=True)
class Connection:
    """A c= line: where media goes (unicast only)."""

    address_type: str  # "IP4" or "IP6"
    address: str

    def __str__(self) -> str:
        return f"IN {self.address_type} {self.address}"


@dataclass(frozen=True)
class Attribute:
    """An a= line: a property (`a=sendrecv`) or a value (`a=ptime:20`)."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass
class MediaDescription:
    """One m= section."""

    media: str  # "audio"
    port: int
    proto: str  # "RTP/AVP"
    formats: list[str]  # payload type numbers for RTP
    port_count: int | None = None  # the "/2" of "m=audio 49170/2 ..."
    information: str | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)

    def rtpmap(self) -> dict[int, Codec]:
        """The a=rtpmap lines, by payload type."""
        codecs = (_parse_rtpmap(a.value or "") for a in self.attributes if a.name == "rtpmap")
        return {codec.payload_type: codec for codec in codecs}

    def codecs(self) -> list[Codec]:
        """For RTP media: the formats in the m= line's (preference) order, named by their
        rtpmap or as static payload types; formats that neither names are left out."""
        rtpmap = self.rtpmap()
        resolved = []
        for fmt in self.formats:
            payload_type = int(fmt)
            codec = rtpmap.get(payload_type) or _STATIC_CODECS.get(payload_type)
            if codec is not None:
                resolved.append(codec)
        return resolved

    def __str__(self) -> str:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        lines = [f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"b={bandwidth}" for bandwidth in self.bandwidths]
        lines += [f"a={attribute}" for attribute in self.attributes]
        return "".join(line + "\r\n" for line in lines)


@dataclass
class SessionDescription:
    """A whole description: session-level lines and the media sections (v= is always 0)."""

    origin: Origin
    name: str = "-"
    information: str | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=lambda: ["0 0"])
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> SessionDescription:
        lines = _split_lines(text)
        for index, type_ in enumerate("vos"):  # RFC 4566 fixes the first three lines
            if index >= len(lines) or lines[index].type != type_:
                found = repr(str(lines[index])) if index < len(lines) else "the end"
                raise ValueError(f"SDP line {index + 1} must be {type_}=, found {found}")
        if lines[0].value != "0":
            raise ValueError(f"SDP version is {lines[0].value!r}, expected 0")
        origin = _parse_line(lines[1], _parse_origin)
        session = cls(origin=origin, name=lines[2].value, times=[])

        current: MediaDescription | None = None
        for line in lines[3:]:
            if line.type == "m":
                current = _parse_line(line, _parse_media)
                session.media.append(current)
            elif current is None:
                _apply_session_line(session, line)
            else:
                _apply_media_line(current, line)

        if not session.times:
            raise ValueError("SDP has no t= line")
        if not session.media:
            raise ValueError("SDP has no m= line")
        for index, media in enumerate(session.media, start=1):
            if media.connection is None and session.connection is None:
                raise ValueError(
                    f"SDP media section {index} (m={media.media}) has no c= line "
                    "and there is no session-level c="
                )
        return session

    def __str__(self) -> str:
        lines = ["v=0", f"o={self.origin}", f"s={self.name}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"b={bandwidth}" for bandwidth in self.bandwidths]
        lines += [f"t={time}" for time in self.times]
        lines += [f"a={attribute}" for attribute in self.attributes]
        return "".join(line + "\r\n" for line in lines) + "".join(map(str, self.media))


# RFC 3264 §6.1: the direction an answer gives to a stream offered with each direction.
_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
# The directions, as the far end describes its stream, in which it wants our audio.
_RECEIVING = frozenset({"sendrecv", "recvonly"})


def answer_direction(offered: str) -> str:
    """Our direction in the answer to a stream offered as `offered` (RFC 3264 §6.1): a hold
    (sendonly) is answered recvonly, and so on."""
    try:
        return _ANSWER_DIRECTION[offered]
    except KeyError:
        raise ValueError(f"{offered!r} is not an SDP direction") from None


@dataclass(frozen=True)
class MediaTarget:
    """Where to send our audio and in which format, as the answer (or a re-offer) decided."""

    address: str
    port: int
    codec: Codec
    direction: str = "sendrecv"  # the stream's direction as the far end describes it
    # The payload type of the far end's telephone-events (RFC 4733) at 8 kHz, if it took them.
    event_payload_type: int | None = None

    @property
    def destination(self) -> tuple[str, int] | None:
        """Where our audio goes; None while the far end wants none of it, i.e. holds the call
        (sendonly or inactive, RFC 3264 §8.4, or the RFC 2543 hold address 0.0.0.0)."""
        if self.direction not in _RECEIVING or ipaddress.ip_address(self.address).is_unspecified:
            return None
        return self.address, self.port


_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def check_answer_destination(target: MediaTarget, ip_version: int) -> None:
    """ValueError unless our RTP socket (IPv`ip_version`) can send a call's audio to where the
    answer points it: one host, of our IP version. A broadcast or multicast address would
    make every send fail (or reach many hosts), and an IPv6 socket cannot reach IPv4."""
    address = ipaddress.ip_address(target.address)
    if address.version != ip_version:
        raise ValueError(
            f"the answer's media address {address} is IPv{address.version},"
            f" our RTP socket is IPv{ip_version}"
        )
    if address == _LIMITED_BROADCAST or address.is_multicast:
        raise ValueError(f"the answer's media address {address} is not one host")


class NoCommonCodec(ValueError):
    """The answer accepted none of the codecs we offered (or rejected the audio stream)."""


def build_offer(
    address: str,
    port: int,
    codecs: Sequence[Codec],
    session_id: int,
    session_version: int = 1,
    direction: str = "sendrecv",
) -> str:
    """An offer (or answer) for one audio stream on `address:port`: `codecs` in preference
    order, then telephone-event, 20 ms packets, and `direction`."""
    if direction not in _ANSWER_DIRECTION:
        raise ValueError(f"{direction!r} is not an SDP direction")
    if not codecs:
        raise ValueError("an offer needs at least one codec")
    if not 0 < port < 65536:
        raise ValueError(f"RTP port {port} is not in 1-65535")
    if session_id < 0 or session_version < 0:
        raise ValueError("session id and version must not be negative")
    offered = [*codecs, TELEPHONE_EVENT]
    payload_types = [codec.payload_type for codec in offered]
    for payload_type in payload_types:
        if payload_types.count(payload_type) > 1:
            raise ValueError(f"payload type {payload_type} is offered twice")
    connection = Connection(_address_type(address), address)
    media = MediaDescription(
        media="audio",
        port=port,
        proto="RTP/AVP",
        formats=[str(payload_type) for payload_type in payload_types],
        attributes=[
            *(Attribute("rtpmap", f"{c.payload_type} {c.name}/{c.clock_rate}") for c in offered),
            Attribute("fmtp", f"{TELEPHONE_EVENT.payload_type} 0-16"),
            Attribute("ptime", "20"),
            Attribute(direction),
        ],
    )
    session = SessionDescription(
        origin=Origin("voxcall", session_id, session_version, connection.address_type, address),
        name="voxcall",
        connection=connection,
        media=[media],
    )
    return str(session)


def negotiate(answer: str, offered: Sequence[Codec]) -> MediaTarget:
    """Read an SDP answer to our offer: the first active audio stream, its address (the
    media-level c= wins over the session-level one), its direction and the first of its
    payload types, in the answer's order, that we offered. telephone-event never counts as
    the codec; its payload type in the answer (at 8000 Hz) is the one key presses come in."""
    return _read(answer, offered, role="answer")


def read_reoffer(offer: str, codecs: Sequence[Codec]) -> MediaTarget:
    """Read the offer of a re-INVITE (RFC 3264 §8) for our stream in one of `codecs`, like
    an answer, except that the RFC 2543 hold address 0.0.0.0 is accepted: an answerer
    must understand it (§8.4), and `MediaTarget.destination` reads it as a hold."""
    return _read(offer, codecs, role="offer")


def _read(description: str, offered: Sequence[Codec], *, role: str) -> MediaTarget:
    session = SessionDescription.parse(description)
    media = next((m for m in session.media if m.media == "audio" and m.port != 0), None)
    if media is None:
        raise NoCommonCodec(f"the {role} has no audio stream with a port other than 0")
    if media.proto.upper() != "RTP/AVP":
        raise ValueError(f"the {role}'s audio stream uses {media.proto}, expected RTP/AVP")
    connection = media.connection or session.connection
    assert connection is not None  # parse() guarantees one of them
    _check_media_address(connection.address, role)
    direction = _direction(media.attributes) or _direction(session.attributes) or "sendrecv"

    codecs = media.codecs()
    events = next(
        (
            codec.payload_type
            for codec in codecs
            if codec.name.lower() == TELEPHONE_EVENT.name
            and codec.clock_rate == TELEPHONE_EVENT.clock_rate
        ),
        None,
    )
    for codec in codecs:
        if codec.name.lower() == TELEPHONE_EVENT.name:
            continue
        for ours in offered:
            if codec.name.lower() == ours.name.lower() and codec.clock_rate == ours.clock_rate:
                # The answer's payload type: it says what the answerer expects to receive.
                chosen = Codec(codec.payload_type, ours.name, ours.clock_rate)
                return MediaTarget(connection.address, media.port, chosen, direction, events)
    answered = " ".join(media.formats)
    names = ", ".join(codec.name for codec in offered)
    raise NoCommonCodec(f"the {role}'s payload types {answered} match none of {names}")


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based, for error messages
    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}={self.value}"


_LINE = re.compile(r"([a-z])=(.*)")
_KNOWN_TYPES = frozenset("vosiuepcbtrzkam")
_SESSION_ONLY = frozenset("vostrzuep")


def _split_lines(text: str) -> list[_Line]:
    # RFC 4566 says CRLF, but also that parsers should accept a bare LF.
    raw = text.split("\n")
    while raw and raw[-1].strip() == "":
        raw.pop()
    if not raw:
        raise ValueError("SDP is empty")
    lines = []
    for number, content in enumerate(raw, start=1):
        content = content.removesuffix("\r")
        match = _LINE.fullmatch(content)
        if match is None:
            raise ValueError(f"SDP line {number} {content!r} is not <type>=<value>")
        if match[1] not in _KNOWN_TYPES:
            raise ValueError(f"SDP line {number} {content!r} has unknown type {match[1]!r}")
        lines.append(_Line(number, match[1], match[2]))
    return lines


def _parse_line(line: _Line, parse: Callable[[str], _T]) -> _T:
    try:
        return parse(line.value)
    except ValueError as exc:
        raise ValueError(f"SDP line {line.number} {str(line)!r}: {exc}") from None


def _apply_session_line(session: SessionDescription, line: _Line) -> None:
    if line.type in "vos":
        raise ValueError(f"SDP line {line.number} {str(line)!r}: {line.type}= appears twice")
    if line.type == "i":
        session.information = line.value
    elif line.type == "c":
        if session.connection is not None:
            raise ValueError(f"SDP line {line.number} {str(line)!r}: second session-level c=")
        session.connection = _parse_line(line, _parse_connection)
    elif line.type == "b":
        session.bandwidths.append(_parse_line(line, _check_bandwidth))
    elif line.type == "t":
        session.times.append(_parse_line(line, _check_time))
    elif line.type == "a":
        session.attributes.append(_parse_line(line, _parse_attribute))


def _apply_media_line(media: MediaDescription, line: _Line) -> None:
    if line.type in _SESSION_ONLY:
        raise ValueError(
            f"SDP line {line.number} {str(line)!r}: {line.type}= is not allowed after m="
        )
    if line.type == "i":
        media.information = line.value
    elif line.type == "c":
        if media.connection is not None:
            raise ValueError(f"SDP line {line.number} {str(line)!r}: second c= in one m= section")
        media.connection = _parse_line(line, _parse_connection)
    elif line.type == "b":
        media.bandwidths.append(_parse_line(line, _check_bandwidth))
    elif line.type == "a":
        media.attributes.append(_parse_line(line, _parse_media_attribute))


def _parse_origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6:
        raise ValueError(f"expected 6 fields, got {len(parts)}")
    username, session_id, session_version, network_type, address_type, address = parts
    if not session_id.isdigit() or not session_version.isdigit():
        raise ValueError("session id and version must be decimal numbers")
    _check_network(network_type, address_type)
    return Origin(username, int(session_id), int(session_version), address_type, address)


def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise ValueError(f"expected 3 fields, got {len(parts)}")
    network_type, address_type, address = parts
    _check_network(network_type, address_type)
    if "/" in address:
        raise ValueError("multicast addresses are not supported")
    return Connection(address_type, address)


def _check_network(network_type: str, address_type: str) -> None:
    if network_type != "IN":
        raise ValueError(f"network type {network_type!r} is not IN")
    if address_type not in ("IP4", "IP6"):
        raise ValueError(f"address type {address_type!r} is not IP4 or IP6")


def _check_bandwidth(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9-]+:[0-9]+", value) is None:
        raise ValueError("expected <bwtype>:<bandwidth>")
    return value


def _check_time(value: str) -> str:
    if re.fullmatch(r"[0-9]+ [0-9]+", value) is None:
        raise ValueError("expected <start-time> <stop-time>")
    return value


def _parse_attribute(value: str) -> Attribute:
    name, colon, attribute_value = value.partition(":")
    if re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+", name) is None:
        raise ValueError(f"attribute name {name!r} is not a token")
    return Attribute(name, attribute_value if colon else None)


def _parse_media_attribute(value: str) -> Attribute:
    attribute = _parse_attribute(value)
    if attribute.name == "rtpmap":
        _parse_rtpmap(attribute.value or "")  # checked now so that negotiation can rely on it
    return attribute


def _parse_media(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 4:
        raise ValueError("expected <media> <port> <proto> <fmt> ...")
    media, port_text, proto, *formats = parts
    match = re.fullmatch(r"([0-9]{1,5})(?:/([0-9]+))?", port_text)
    if match is None or int(match[1]) > 65535:
        raise ValueError(f"port {port_text!r} is not a number 0-65535")
    if proto.upper().startswith("RTP/"):
        for fmt in formats:
            _parse_payload_type(fmt)
    return MediaDescription(
        media=media,
        port=int(match[1]),
        proto=proto,
        formats=formats,
        port_count=None if match[2] is None else int(match[2]),
    )


def _parse_payload_type(text: str) -> int:
    if not text.isdigit() or int(text) > 127:
        raise ValueError(f"payload type {text!r} is not a number 0-127")
    return int(text)


def _parse_rtpmap(value: str) -> Codec:
    match = re.fullmatch(r"(\S+) ([^/\s]+)/([0-9]+)(?:/[0-9]+)?", value)
    if match is None:
        raise ValueError("expected <payload type> <encoding>/<clock rate>[/<channels>]")
    return Codec(_parse_payload_type(match[1]), match[2], int(match[3]))


def _address_type(address: str) -> str:
    try:
        return f"IP{ipaddress.ip_address(address).version}"
    except ValueError:
        raise ValueError(f"{address!r} is not an IP address") from None


def _direction(attributes: Sequence[Attribute]) -> str | None:
    """The direction attribute among `attributes` (RFC 3264 §5.1), if there is one."""
    return next((a.name for a in attributes if a.name in _ANSWER_DIRECTION), None)


def _check_media_address(address: str, role: str) -> None:
    # We send to it with sendto(): a host name would need a blocking lookup, and 0.0.0.0
    # (RFC 2543 hold) would deliver our audio to this machine: only an offer may hold so.
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"the {role}'s media address {address!r} is not an IP address") from None
    if ip.is_unspecified and role == "answer":
        raise ValueError(f"the answer's media address {address} means on hold, not a destination")
