"""`voxcall dialer add | update | list | enable | disable`: dialer servers (trunks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from voxcall.billing.money import toman
from voxcall.calls.dialers import DIALER_ID, DialerChanges, new_dialer
from voxcall.cli.common import DataOption, JsonOption, fail, open_admin, parse_amount
from voxcall.dialers.registry import DRIVERS
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.money import Tariff

IdArgument = Annotated[str, typer.Argument(metavar="ID")]
DefaultOption = Annotated[bool, typer.Option("--default", help="Use for calls without serverId.")]
MARGIN_HELP = "Seconds past the voice to reserve for (signalling); reserved, not billed."
BYE_TAIL_HELP = "sip: ms of silence after the voice before the BYE (default 250)."
ByeTailOption = Annotated[int | None, typer.Option(help=BYE_TAIL_HELP)]
AMD_HELP = "sip: a machine detection threshold, e.g. greeting_ms=2000 (repeatable; README)."
AmdOption = Annotated[list[str] | None, typer.Option(help=AMD_HELP, metavar="NAME=VALUE")]


def _thresholds(given: list[str] | None) -> dict[str, int] | None:
    """--amd NAME=VALUE flags as a dict (the driver checks the names and values)."""
    if not given:
        return None
    thresholds = {}
    for item in given:
        name, _, value = item.partition("=")
        try:
            thresholds[name.strip()] = int(value)
        except ValueError:
            fail(f"--amd: expected NAME=WHOLE_NUMBER, e.g. greeting_ms=2000, not {item!r}")
    return thresholds


def _dialer_json(d: DialerConfig) -> dict[str, object]:
    return {
        "id": d.id,
        "name": d.name,
        "driver": d.driver,
        "channels": d.channels,
        "cps": d.cps,
        "retryInterval": d.retry_interval,
        "ringTimeout": d.ring_timeout,
        "enabled": d.enabled,
        "default": d.is_default,
        "pricePerMinute": toman(d.tariff.price_per_minute),
        "billingIncrement": d.tariff.billing_increment,
        "connectFee": toman(d.tariff.connect_fee),
        "reserveMargin": d.tariff.reserve_margin,
        # never the password
        "options": {k: v for k, v in d.options.items() if k != "password"},
    }


def add(
    dialer_id: IdArgument,
    driver: Annotated[str, typer.Option(help=f"One of: {', '.join(DRIVERS)}.")],
    data: DataOption = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    channels: Annotated[int, typer.Option(help="Simultaneous calls.", min=1)] = 10,
    cps: Annotated[float, typer.Option(help="New calls per second.", min=0.01)] = 10.0,
    retry_interval: Annotated[int, typer.Option(help="Seconds between attempts.", min=1)] = 60,
    ring_timeout: Annotated[int, typer.Option(help="Seconds to let it ring.", min=1)] = 45,
    default: DefaultOption = False,
    trunk: Annotated[
        str | None, typer.Option(help="sip: sip:HOST[:PORT][;transport=udp|tcp]")
    ] = None,
    username: Annotated[str | None, typer.Option(help="sip: digest user name.")] = None,
    password: Annotated[str | None, typer.Option(help="sip: digest password.")] = None,
    caller_id: Annotated[str | None, typer.Option(help="sip: the From user.")] = None,
    from_domain: Annotated[str | None, typer.Option(help="sip: the From host.")] = None,
    codecs: Annotated[str | None, typer.Option(help="sip: e.g. PCMA,PCMU")] = None,
    local_ip: Annotated[str | None, typer.Option(help="sip: address for SIP and RTP.")] = None,
    local_port: Annotated[
        int | None, typer.Option(help="sip: our SIP port (default: any free one).")
    ] = None,
    rtp_ports: Annotated[str | None, typer.Option(help="sip: e.g. 20000-30000")] = None,
    bye_tail: ByeTailOption = None,
    amd: AmdOption = None,
    cdr_file: Annotated[
        str | None, typer.Option(help="sandbox: append a JSON line per attempt start and end.")
    ] = None,
    price_per_minute: Annotated[
        str, typer.Option(help="Toman per minute (e.g. 600 or 34.2).")
    ] = "0",
    billing_increment: Annotated[
        int, typer.Option(help="Billed in steps of N seconds.", min=1)
    ] = 60,
    connect_fee: Annotated[str, typer.Option(help="Toman per answered call.")] = "0",
    reserve_margin: Annotated[int, typer.Option(help=MARGIN_HELP, min=0, max=3600)] = 1,
    json_out: JsonOption = False,
) -> None:
    """Add a dialer server; a running `serve` picks it up at once."""
    tariff = Tariff(
        price_per_minute=parse_amount("--price-per-minute", price_per_minute),
        billing_increment=billing_increment,
        connect_fee=parse_amount("--connect-fee", connect_fee),
        reserve_margin=reserve_margin,
    )
    if not DIALER_ID.fullmatch(dialer_id):
        fail("ID: must match [a-z0-9][a-z0-9_-]{0,31}")
    if driver not in DRIVERS:
        fail(f"--driver: must be one of {', '.join(DRIVERS)}")
    sip_values = {
        "trunk": trunk,
        "username": username,
        "password": password,
        "caller_id": caller_id,
        "from_domain": from_domain,
        "codecs": codecs,
        "local_ip": local_ip,
        "local_port": local_port,
        "rtp_ports": rtp_ports,
        "bye_tail": bye_tail,
        "amd": _thresholds(amd),
    }
    options: dict[str, object] = {k: v for k, v in sip_values.items() if v is not None}
    if driver == "sandbox" and options:
        fail(f"--{next(iter(options)).replace('_', '-')}: only for --driver sip")
    if cdr_file is not None:
        if driver != "sandbox":
            fail("--cdr-file: only for --driver sandbox")
        options["cdr_file"] = str(Path(cdr_file).resolve())
    config = new_dialer(
        dialer_id,
        driver,
        name or dialer_id,
        options,
        channels=channels,
        cps=cps,
        retry_interval=retry_interval,
        ring_timeout=ring_timeout,
        is_default=default,
        tariff=tariff,
    )
    added = open_admin(data).dialers.add(config)
    if json_out:
        typer.echo(json.dumps(_dialer_json(added)))
    else:
        typer.echo(f"dialer {dialer_id} added ({driver})")


def _given_amount(flag: str, text: str | None) -> int | None:
    return None if text is None else parse_amount(flag, text)


def update(
    dialer_id: IdArgument,
    data: DataOption = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    channels: Annotated[int | None, typer.Option(help="Simultaneous calls.", min=1)] = None,
    cps: Annotated[float | None, typer.Option(help="New calls per second.", min=0.01)] = None,
    retry_interval: Annotated[
        int | None, typer.Option(help="Seconds between attempts.", min=1)
    ] = None,
    ring_timeout: Annotated[int | None, typer.Option(help="Seconds to let it ring.", min=1)] = None,
    default: DefaultOption = False,
    price_per_minute: Annotated[str | None, typer.Option(help="Toman per minute.")] = None,
    billing_increment: Annotated[
        int | None, typer.Option(help="Billed in steps of N s.", min=1)
    ] = None,
    connect_fee: Annotated[str | None, typer.Option(help="Toman per answered call.")] = None,
    reserve_margin: Annotated[int | None, typer.Option(help=MARGIN_HELP, min=0, max=3600)] = None,
    bye_tail: ByeTailOption = None,
    amd: AmdOption = None,
    json_out: JsonOption = False,
) -> None:
    """Change a dialer's limits or tariff; calls accepted later use the new values."""
    dialers = open_admin(data).dialers
    current = dialers.get(dialer_id)
    if bye_tail is not None and current.driver != "sip":
        fail("--bye-tail: only for --driver sip")
    if amd and current.driver != "sip":
        fail("--amd: only for --driver sip")
    changes = DialerChanges(
        name=name,
        channels=channels,
        cps=cps,
        retry_interval=retry_interval,
        ring_timeout=ring_timeout,
        make_default=default,
        price_per_minute=_given_amount("--price-per-minute", price_per_minute),
        billing_increment=billing_increment,
        connect_fee=_given_amount("--connect-fee", connect_fee),
        reserve_margin=reserve_margin,
        bye_tail=bye_tail,
        amd=_thresholds(amd),
    )
    updated = dialers.update(current, changes)
    if json_out:
        typer.echo(json.dumps(_dialer_json(updated)))
    else:
        typer.echo(f"dialer {dialer_id} updated")


def list_(data: DataOption = None, json_out: JsonOption = False) -> None:
    """List dialers."""
    dialers = open_admin(data).dialers.list()
    if json_out:
        typer.echo(json.dumps([_dialer_json(d) for d in dialers]))
        return
    for d in dialers:
        flags = ("enabled" if d.enabled else "disabled") + (" default" if d.is_default else "")
        typer.echo(
            f"{d.id}\t{d.driver}\tchannels={d.channels}\tcps={d.cps:g}\t"
            f"retry={d.retry_interval}s\tring={d.ring_timeout}s\t{flags}"
        )


def disable(dialer_id: IdArgument, data: DataOption = None) -> None:
    """Stop placing new attempts on a dialer (live ones finish)."""
    open_admin(data).dialers.set_enabled(dialer_id, False)
    typer.echo(f"dialer {dialer_id} disabled")


def enable(dialer_id: IdArgument, data: DataOption = None) -> None:
    """Place attempts on a dialer again."""
    open_admin(data).dialers.set_enabled(dialer_id, True)
    typer.echo(f"dialer {dialer_id} enabled")
