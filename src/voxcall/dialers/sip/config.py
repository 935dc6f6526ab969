"""The `sip` driver's settings, as the CLI stores them (a JSON dict) and as the code uses them."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from voxcall.audio.amd import AmdSettings
from voxcall.dialers.sip.sdp import PCMA, PCMU, Codec, codec_by_name
from voxcall.dialers.sip.transaction import Address
from voxcall.dialers.sip.uri import SipUri

TRANSPORTS = ("udp", "tcp")
_OPTIONS = frozenset(
    {
        "trunk",
        "username",
        "password",
        "caller_id",
        "from_domain",
        "codecs",
        "local_ip",
        "local_port",
        "rtp_ports",
        "bye_tail",
        "amd",
    }
)
MAX_BYE_TAIL_MS = 5000  # a longer silence only adds to the bill
# What may appear as the user part of our From (RFC 3261 "user" unreserved characters,
# minus the ones that would need escaping).
_CALLER_ID = re.compile(r"[A-Za-z0-9+\-_.!~*()]{1,64}")
_USERNAME = re.compile(r"[A-Za-z0-9+\-_.!~*()&=$,;?/]{1,128}")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?")
_PORT_RANGE = re.compile(r"\s*(\d{1,5})\s*-\s*(\d{1,5})\s*")


@dataclass(frozen=True)
class Trunk:
    """Where calls go: "sip:HOST[:PORT][;transport=udp|tcp]"."""

    host: str
    port: int | None
    transport: str  # "udp" or "tcp"

    @classmethod
    def parse(cls, text: str) -> Trunk:
        uri = SipUri.parse(text.strip())
        if uri.scheme != "sip":
            raise ValueError("use a sip: URI (sips: is not supported)")
        if uri.user is not None:
            raise ValueError("give the trunk without a user part: sip:HOST[:PORT]")
        if uri.headers:
            raise ValueError("the trunk URI must not have headers")
        transport = (uri.params.get("transport") or "udp").lower()
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be udp or tcp, not {transport!r}")
        unknown = set(uri.params) - {"transport"}
        if unknown:
            raise ValueError(f"unsupported URI parameter(s): {', '.join(sorted(unknown))}")
        if uri.port == 0:
            raise ValueError("port 0 is not a port")
        return cls(uri.host, uri.port, transport)

    @property
    def hostport(self) -> str:
        """As the Request-URI carries it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        suffix = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"sip:{self.hostport}{suffix}"


def _parse_trunk(text: str) -> Trunk:
    try:
        return Trunk.parse(text)
    except ValueError as exc:
        raise ValueError(f"trunk: {exc}") from None


def _optional_text(options: Mapping[str, object], name: str) -> str | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {type(value).__name__}")
    return value


def _optional_port(options: Mapping[str, object], name: str) -> int | None:
    value = options.get(name)
    return None if value is None else _whole_number(name, value, "a port number")


def _optional_int(options: Mapping[str, object], name: str, default: int) -> int:
    value = options.get(name)
    return default if value is None else _whole_number(name, value, "a whole number")


def _whole_number(name: str, value: object, what: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{name}: expected {what}, got {value!r}")


def _codecs(value: object) -> tuple[Codec, ...]:
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",")]
    elif isinstance(value, list | tuple) and all(isinstance(name, str) for name in value):
        names = [str(name).strip() for name in value]
    else:
        raise ValueError('codecs: expected a list like "PCMA,PCMU"')
    try:
        codecs = tuple(codec_by_name(name) for name in names if name)
    except ValueError as exc:
        raise ValueError(f"codecs: {exc}") from None
    if not codecs:
        raise ValueError("codecs: at least one of PCMA, PCMU is needed")
    if len(set(codecs)) != len(codecs):
        raise ValueError("codecs: a codec is listed twice")
    return codecs


def _amd(value: object) -> AmdSettings:
    """Answering-machine detection thresholds: {"greeting_ms": 1500, ...}, the rest default."""
    if not isinstance(value, Mapping):
        raise ValueError('amd: expected thresholds like {"greeting_ms": 1500}')
    names = {f.name for f in dataclasses.fields(AmdSettings)}
    unknown = set(value) - names
    if unknown:
        raise ValueError(f"amd: unknown threshold(s): {', '.join(sorted(unknown))}")
    for name, threshold in value.items():
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise ValueError(f"amd {name}: expected a whole number, got {threshold!r}")
    return AmdSettings(**value)


def _rtp_ports(value: object) -> tuple[int, int]:
    if isinstance(value, str):
        match = _PORT_RANGE.fullmatch(value)
        if match is None:
            raise ValueError(f'rtp_ports: expected "LOW-HIGH", got {value!r}')
        low, high = int(match[1]), int(match[2])
    elif (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(port, int) and not isinstance(port, bool) for port in value)
    ):
        low, high = int(value[0]), int(value[1])
    else:
        raise ValueError('rtp_ports: expected "LOW-HIGH"')
    if not 1024 <= low < high <= 65535:
        raise ValueError(f"rtp_ports: need 1024 <= LOW < HIGH <= 65535, got {low}-{high}")
    return low, high


@dataclass(frozen=True)
class SipTrunkConfig:
    """The settings of one SIP trunk. `password` never shows in repr (and so in logs)."""

    trunk: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    caller_id: str | None = None
    from_domain: str | None = None
    codecs: tuple[Codec, ...] = (PCMA, PCMU)
    local_ip: str | None = None  # None: the address the OS would use to reach the trunk
    # Our SIP port (the UDP socket, or the TCP listener): fixed, for a firewall rule, or
    # None for one the OS picks.
    local_port: int | None = None
    rtp_ports: tuple[int, int] = (20000, 30000)
    # Milliseconds of silence sent after the voice, before the BYE: the callee's jitter
    # buffer plays out the last syllable.
    bye_tail_ms: int = 250
    # Answering-machine detection, for calls that ask for it (api.md §11).
    amd: AmdSettings = field(default_factory=AmdSettings)

    def __post_init__(self) -> None:
        _parse_trunk(self.trunk)
        if (self.username is None) != (self.password is None):
            raise ValueError("password: username and password go together")
        if self.username is not None and not _USERNAME.fullmatch(self.username):
            raise ValueError("username: empty, too long, or has characters a SIP URI cannot carry")
        if self.caller_id is not None and not _CALLER_ID.fullmatch(self.caller_id):
            raise ValueError(f"caller_id: {self.caller_id!r} is not a valid SIP user")
        if self.from_domain is not None and not _DOMAIN.fullmatch(self.from_domain):
            raise ValueError(f"from_domain: {self.from_domain!r} is not a host name or address")
        if not self.codecs or any(c not in (PCMA, PCMU) for c in self.codecs):
            raise ValueError("codecs: PCMA and/or PCMU only")
        if self.local_ip is not None:
            try:
                ipaddress.IPv4Address(self.local_ip)
            except ValueError:
                raise ValueError(f"local_ip: {self.local_ip!r} is not an IPv4 address") from None
        if self.local_port is not None and not 1 <= self.local_port <= 65535:
            raise ValueError(f"local_port: {self.local_port} is not a port (1 to 65535)")
        low, high = self.rtp_ports
        if not 1024 <= low < high <= 65535:
            raise ValueError(f"rtp_ports: need 1024 <= LOW < HIGH <= 65535, got {low}-{high}")
        if self.local_port is not None and low <= self.local_port <= high:
            raise ValueError(f"local_port: {self.local_port} is inside rtp_ports {low}-{high}")
        if not 0 <= self.bye_tail_ms <= MAX_BYE_TAIL_MS:
            raise ValueError(f"bye_tail: {self.bye_tail_ms} ms is not 0 to {MAX_BYE_TAIL_MS} ms")

    @property
    def parsed_trunk(self) -> Trunk:
        return _parse_trunk(self.trunk)

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> SipTrunkConfig:
        """From the CLI's stored options; ValueError naming the field that is wrong."""
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        trunk = _optional_text(options, "trunk")
        if trunk is None:
            raise ValueError("trunk: required, e.g. sip:trunk.example.net:5060")
        defaults = cls(trunk=trunk)
        return cls(
            trunk=trunk,
            username=_optional_text(options, "username"),
            password=_optional_text(options, "password"),
            caller_id=_optional_text(options, "caller_id"),
            from_domain=_optional_text(options, "from_domain"),
            codecs=_codecs(options["codecs"]) if options.get("codecs") else defaults.codecs,
            local_ip=_optional_text(options, "local_ip"),
            local_port=_optional_port(options, "local_port"),
            rtp_ports=(
                _rtp_ports(options["rtp_ports"]) if options.get("rtp_ports") else defaults.rtp_ports
            ),
            bye_tail_ms=_optional_int(options, "bye_tail", defaults.bye_tail_ms),
            amd=_amd(options["amd"]) if options.get("amd") else defaults.amd,
        )

    def to_options(self) -> dict[str, object]:
        """The inverse of `from_options` (the password included: this is what gets stored)."""
        return {
            "trunk": self.trunk,
            "username": self.username,
            "password": self.password,
            "caller_id": self.caller_id,
            "from_domain": self.from_domain,
            "codecs": ",".join(codec.name for codec in self.codecs),
            "local_ip": self.local_ip,
            "local_port": self.local_port,
            "rtp_ports": f"{self.rtp_ports[0]}-{self.rtp_ports[1]}",
            "bye_tail": self.bye_tail_ms,
            # Only what an operator changed, and only then: the defaults may improve.
            **({"amd": changed} if (changed := _changed_thresholds(self.amd)) else {}),
        }


def _changed_thresholds(settings: AmdSettings) -> dict[str, int]:
    """The thresholds that differ from the defaults."""
    defaults = AmdSettings()
    return {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if getattr(settings, f.name) != getattr(defaults, f.name)
    }


@dataclass(frozen=True)
class CallSettings:
    """What every call of one dialer shares."""

    destination: Address  # the trunk's address: where out-of-dialog requests go
    request_host: str  # "host" or "host:port", as the Request-URI and To carry it
    from_address: str  # our From without tag: '"Caller" <sip:user@domain>'
    contact_user: str
    media_ip: str  # our address in the SDP
    codecs: tuple[Codec, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # Seconds of silence sent after the voice, before the BYE, so that the callee's jitter
    # buffer plays out the last syllable instead of the BYE cutting it off. Sent, not just
    # waited: a jitter buffer driven by arriving packets (baresip's) releases its last
    # frames only when more packets push them out.
    bye_tail: float = 0.25
    amd: AmdSettings = field(default_factory=AmdSettings)  # for calls that ask for it
