"""SipTrunkConfig: the CLI's stored options in, validation naming the field, and back out."""

from __future__ import annotations

import pytest

from voxcall.audio.amd import AmdSettings
from voxcall.dialers.sip.config import SipTrunkConfig, Trunk
from voxcall.dialers.sip.driver import source_address
from voxcall.dialers.sip.sdp import PCMA, PCMU

FULL = {
    "trunk": "sip:trunk.example.net:5070;transport=tcp",
    "username": "alice",
    "password": "s3cret!",
    "caller_id": "+982112345678",
    "from_domain": "voip.example.net",
    "codecs": "PCMU,PCMA",
    "local_ip": "192.0.2.10",
    "local_port": 5080,
    "rtp_ports": "20000-20999",
    "bye_tail": 400,
}


def test_from_options_reads_the_cli_dict() -> None:
    config = SipTrunkConfig.from_options(FULL)
    assert config.parsed_trunk == Trunk("trunk.example.net", 5070, "tcp")
    assert config.codecs == (PCMU, PCMA)
    assert config.rtp_ports == (20000, 20999)
    assert (config.username, config.password) == ("alice", "s3cret!")


def test_round_trip() -> None:
    config = SipTrunkConfig.from_options(FULL)
    assert config.to_options() == FULL
    assert SipTrunkConfig.from_options(config.to_options()) == config


def test_defaults() -> None:
    config = SipTrunkConfig.from_options({"trunk": "sip:10.0.0.1"})
    assert config.codecs == (PCMA, PCMU)
    assert config.rtp_ports == (20000, 30000)
    assert config.local_ip is None  # found at start() from the route to the trunk
    assert config.bye_tail_ms == 250
    assert config.parsed_trunk == Trunk("10.0.0.1", None, "udp")
    assert config.parsed_trunk.hostport == "10.0.0.1"
    assert SipTrunkConfig.from_options(config.to_options()) == config


def test_the_password_never_shows() -> None:
    config = SipTrunkConfig.from_options(FULL)
    assert "s3cret" not in repr(config)
    assert "s3cret" not in str(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trunk": None}, "trunk: required"),
        ({"trunk": "http://x"}, "trunk: "),
        ({"trunk": "sip:0912@trunk"}, "trunk: give the trunk without a user part"),
        ({"trunk": "sip:trunk;transport=sctp"}, "trunk: transport must be udp or tcp"),
        ({"trunk": "sip:trunk:99999"}, "trunk: "),
        ({"trunk": "sips:trunk"}, "trunk: use a sip: URI"),
        ({"trunk": "sip:trunk;maddr=1.2.3.4"}, "trunk: unsupported URI parameter"),
        ({"username": None}, "password: username and password go together"),
        ({"username": "al ice"}, "username: "),
        ({"caller_id": "<sip:x>"}, "caller_id: "),
        ({"from_domain": "bad domain"}, "from_domain: "),
        ({"codecs": "PCMA,G729"}, "codecs: unknown codec 'G729'"),
        ({"codecs": "PCMA,pcma"}, "codecs: a codec is listed twice"),
        ({"codecs": 7}, "codecs: expected a list"),
        ({"local_ip": "eth0"}, "local_ip: 'eth0' is not an IPv4 address"),
        ({"rtp_ports": "30000-20000"}, "rtp_ports: need 1024 <= LOW < HIGH <= 65535"),
        ({"rtp_ports": "80-9000"}, "rtp_ports: need 1024"),
        ({"rtp_ports": "lots"}, 'rtp_ports: expected "LOW-HIGH"'),
        ({"local_port": 0}, "local_port: 0 is not a port (1 to 65535)"),
        ({"local_port": 70000}, "local_port: 70000 is not a port"),
        ({"local_port": "sip"}, "local_port: expected a port number, got 'sip'"),
        ({"local_port": True}, "local_port: expected a port number"),
        ({"local_port": 20500}, "local_port: 20500 is inside rtp_ports 20000-20999"),
        ({"bye_tail": -1}, "bye_tail: -1 ms is not 0 to 5000 ms"),
        ({"bye_tail": 5001}, "bye_tail: 5001 ms is not 0 to 5000 ms"),
        ({"bye_tail": "soon"}, "bye_tail: expected a whole number, got 'soon'"),
        ({"username": 5}, "username: expected a string"),
        ({"ring": 30}, "unknown option(s): ring"),
    ],
)
def test_validation_names_the_field(change: dict[str, object], message: str) -> None:
    options = {**FULL, **change}
    with pytest.raises(ValueError) as error:
        SipTrunkConfig.from_options(options)
    assert str(error.value).startswith(message)


def test_bye_tail_from_the_cli_as_text() -> None:
    assert SipTrunkConfig.from_options({**FULL, "bye_tail": "0"}).bye_tail_ms == 0


def test_lists_are_accepted_as_well_as_cli_strings() -> None:
    config = SipTrunkConfig.from_options(
        {"trunk": "sip:10.0.0.1", "codecs": ["PCMU"], "rtp_ports": [40000, 40100]}
    )
    assert (config.codecs, config.rtp_ports) == ((PCMU,), (40000, 40100))


def test_source_address_is_the_route_to_the_trunk() -> None:
    assert source_address(("127.0.0.1", 5060)) == "127.0.0.1"


def test_local_port_from_the_cli_as_text() -> None:
    assert SipTrunkConfig.from_options({**FULL, "local_port": "5090"}).local_port == 5090
    assert SipTrunkConfig.from_options({"trunk": "sip:10.0.0.1"}).local_port is None


def test_machine_detection_thresholds_are_options_kept_only_when_changed() -> None:
    config = SipTrunkConfig.from_options({"trunk": "sip:10.0.0.1"})
    assert config.amd == AmdSettings() and "amd" not in config.to_options()
    tuned = SipTrunkConfig.from_options(
        {"trunk": "sip:10.0.0.1", "amd": {"greeting_ms": 2000, "silence_threshold_dbfs": -45}}
    )
    assert (tuned.amd.greeting_ms, tuned.amd.silence_threshold_dbfs) == (2000, -45)
    assert tuned.to_options()["amd"] == {"greeting_ms": 2000, "silence_threshold_dbfs": -45}
    assert SipTrunkConfig.from_options(tuned.to_options()) == tuned


@pytest.mark.parametrize(
    ("amd", "message"),
    [
        ("fast", "amd: expected thresholds like"),
        ({"greeting": 1500}, "amd: unknown threshold.s.: greeting"),
        ({"greeting_ms": "1500"}, "amd greeting_ms: expected a whole number, got '1500'"),
        ({"total_analysis_ms": 9000}, "amd total_analysis_ms: at most 5000"),
    ],
)
def test_machine_detection_thresholds_are_checked(amd: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SipTrunkConfig.from_options({"trunk": "sip:10.0.0.1", "amd": amd})
