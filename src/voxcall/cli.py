"""The `voxcall` command: serve, and manage projects and dialers (also while `serve` runs)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Annotated, Any, NoReturn

import phonenumbers
import typer

from voxcall.billing.money import parse_toman, toman
from voxcall.config import DataFolderMismatch, Settings
from voxcall.dialers.registry import DRIVERS
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.money import FREE, LedgerEntry, Tariff
from voxcall.domain.projects import Project
from voxcall.store.migrate import NotMigrated
from voxcall.store.store import Conflict, Store, StoreUnavailable
from voxcall.tokens import PREFIX_LENGTH, hash_token, new_token

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
project_app = typer.Typer(no_args_is_help=True, help="API projects and their tokens.")
dialer_app = typer.Typer(no_args_is_help=True, help="Dialer servers (trunks).")
app.add_typer(project_app, name="project")
app.add_typer(dialer_app, name="dialer")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
app.add_typer(db_app, name="db")

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data folder (default ./var or $VOXCALL_DATA)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
PriceOption = Annotated[str, typer.Option(help="Toman per minute (e.g. 600 or 34.2).")]
IncrementOption = Annotated[int, typer.Option(help="Billed in steps of N seconds.", min=1)]
FeeOption = Annotated[str, typer.Option(help="Toman per answered call.")]
MARGIN_HELP = "Seconds past the voice to reserve for (signalling); reserved, not billed."
MarginOption = Annotated[int, typer.Option(help=MARGIN_HELP, min=0, max=3600)]
BYE_TAIL_HELP = "sip: ms of silence after the voice before the BYE (default 250)."
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _settings(data: Path | None) -> Settings:
    try:
        return Settings.load(data)
    except ValueError as exc:  # an environment variable that is not what it must be
        _fail(str(exc))


def _store(data: Path | None) -> tuple[Settings, Store]:
    settings = _settings(data)
    try:
        settings.prepare()
        return settings, Store.open(
            settings.database_url, create=settings.embedded, timeout=settings.db_timeout
        )
    except DataFolderMismatch as exc:
        _fail(str(exc))
    except StoreUnavailable as exc:
        _fail(f"cannot open the database: {exc}")
    except NotMigrated as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _project(store: Store, name: str) -> Project:
    project = store.project_by_name(name)
    if project is None:
        _fail(f"no project named {name!r}")
    return project


def _mint_token(store: Store, project: Project) -> str:
    token = new_token()
    store.add_token(project.id, prefix=token.prefix, token_hash=token.token_hash)
    return token.token


# -- serve --------------------------------------------------------------------------


@app.command()
def serve(
    data: DataOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    role: Annotated[
        str, typer.Option(help="all: API and worker; api: accept and answer; worker: place calls.")
    ] = "all",
    demo: Annotated[
        bool, typer.Option(help="Ensure a sandbox dialer and a demo project; print a token.")
    ] = False,
    grace: Annotated[
        float, typer.Option(help="Seconds live attempts may finish after SIGTERM.")
    ] = 30.0,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port.", min=1, max=65535)
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address for the metrics.")] = "127.0.0.1",
    header_timeout: Annotated[
        float,
        typer.Option(help="Seconds a client has to send a request's headers.", min=0.01),
    ] = 10.0,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Client connections open at once; more are answered 503 (default: the open-"
            "file limit, raised to its hard limit, less 1024 for the rest of voxcall).",
            min=1,
        ),
    ] = None,
    db_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds a request waits for a locked or slow database before it answers 503"
            " (default 5 or $VOXCALL_DB_TIMEOUT).",
            min=0.01,
        ),
    ] = None,
) -> None:
    """Run voxcall: the API, the scheduler and the dialers (by --role)."""
    from voxcall.api.server import connection_room, raise_fd_limit
    from voxcall.runtime import ROLES, build_services, freeze_startup_objects

    if role not in ROLES:
        _fail(f"--role: must be one of {', '.join(ROLES)}")
    fd_limit = raise_fd_limit()  # SIP and RTP sockets need them too, not only clients
    room = connection_room(fd_limit)
    if max_connections is None:
        max_connections = room
    elif max_connections > room:
        _fail(
            f"--max-connections: at most {room} under the open-file limit of {fd_limit} "
            "(raise it: LimitNOFILE in the systemd unit, ulimit -n in a shell)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings(data)
    if db_timeout is not None:
        settings = dataclasses.replace(settings, db_timeout=db_timeout)
    try:
        services = build_services(settings)
    except (NotMigrated, DataFolderMismatch) as exc:
        _fail(str(exc))
    except StoreUnavailable as exc:
        _fail(f"cannot open the database: {exc}")
    services.scheduler.shutdown_grace = grace
    if metrics_port is not None:
        try:
            services.metrics.serve(metrics_port, metrics_host)
        except OSError as exc:
            _fail(f"--metrics-port: cannot listen on {metrics_host}:{metrics_port}: {exc}")
    if demo:
        _print_demo(_ensure_demo(services.store, services.voices), host, port)
    # uvloop, named rather than uvicorn's "auto", which falls back to asyncio without a word:
    # the SIP and RTP code is tested on both, and this is the loop users run.
    import uvloop

    if role == "worker":
        freeze_startup_objects()
        uvloop.run(_work_until_signalled(services))
        return

    import uvicorn

    from voxcall.api.app import create_app
    from voxcall.api.server import guarded_http

    app = create_app(services, run_worker=role == "all")
    freeze_startup_objects()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=int(grace) + 5,
        http=guarded_http(header_timeout, max_connections),
        loop="uvloop",
    )


async def _work_until_signalled(services: Any) -> None:
    from voxcall.runtime import worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker(services):
        logging.getLogger("voxcall").info("worker %s running", services.scheduler.worker_id)
        await stop.wait()


def _ensure_demo(store: Store, voices: Any) -> tuple[str, str]:
    if not store.list_dialers():
        store.add_dialer(_dialer_config("sandbox", "sandbox", "Sandbox", {}, is_default=True))
    project = store.project_by_name("demo") or store.create_project(
        "demo", rate_limit=100, allowed_regions=["IR"]
    )
    existing = store.list_voices(project.id)
    voice_id = (
        existing[0].id
        if existing
        else voices.upload(project, _demo_audio(), name="welcome", filename="welcome.wav").id
    )
    return _mint_token(store, project), voice_id


def _demo_audio() -> bytes:
    """A spoken welcome from espeak-ng, or a 3 s tone where espeak-ng is not installed."""
    if shutil.which("espeak-ng"):
        spoken: bytes = subprocess.run(
            ["espeak-ng", "-v", "en-us", "--stdout", "Hello. This is a test call from voxcall."],
            check=True,
            capture_output=True,
        ).stdout
        return spoken
    import numpy as np

    from voxcall.audio.wav import wav_bytes

    t = np.arange(3 * 8000) / 8000
    return wav_bytes((np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes())


def _print_demo(demo: tuple[str, str], host: str, port: int) -> None:
    token, voice_id = demo
    base = f"http://{host}:{port}/api/v2"
    typer.echo(
        f"""
voxcall is starting on http://{host}:{port} (sandbox dialer, project "demo")

  token:  {token}
  voice:  {voice_id}

Place a call (numbers ending 0001 are busy, 0002 ring out, 0003 fail, 0004 hang up early):

  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
       -d '{{"phoneNumber": "09121234567", "voiceId": "{voice_id}"}}' {base}/voice/single

Then ask for its status with the id it returned:

  curl -s -H 'Authorization: Bearer {token}' {base}/voice/status/ID
"""
    )


# -- database -----------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(data: DataOption = None) -> None:
    """Apply the schema migrations (SQLite or PostgreSQL) up to this version's head."""
    from voxcall.store import migrate
    from voxcall.store.database import make_engine

    settings = _settings(data)
    try:
        settings.prepare()
    except DataFolderMismatch as exc:
        _fail(str(exc))
    engine = make_engine(settings.database_url, timeout=math.inf)  # a migration may take long
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
    except Exception as exc:  # the driver's own errors: unreachable, refused, ...
        _fail(f"cannot migrate the database: {exc}")
    finally:
        engine.dispose()
    typer.echo(f"database at revision {migrate.head()} (was {before or 'empty'})")


# -- projects -----------------------------------------------------------------------


@project_app.command("create")
def project_create(
    name: str,
    data: DataOption = None,
    balance: Annotated[str | None, typer.Option(help="Opening balance in Toman.")] = None,
    rate_limit: Annotated[int, typer.Option(help="Requests per second.", min=1)] = 100,
    json_out: JsonOption = False,
) -> None:
    """Create a project and print its first API token (shown once)."""
    opening = _amount("--balance", balance) if balance is not None else 0
    _, store = _store(data)
    try:
        project = store.create_project(name, rate_limit=rate_limit, allowed_regions=["IR"])
    except Conflict:
        _fail(f"a project named {name!r} exists")
    if opening:
        store.credit(project.id, opening, kind="topup", note="opening balance")
    token = _mint_token(store, project)
    if json_out:
        typer.echo(
            json.dumps(
                {"id": project.id, "name": project.name, "token": token, "balance": toman(opening)}
            )
        )
    else:
        typer.echo(f"project {project.name} ({project.id})\ntoken: {token}")


@project_app.command("list")
def project_list(data: DataOption = None, json_out: JsonOption = False) -> None:
    """List projects."""
    _, store = _store(data)
    projects = store.list_projects()
    if json_out:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": p.id,
                        "name": p.name,
                        "rateLimit": p.rate_limit,
                        "defaultDialer": p.default_dialer_id,
                        "storageQuotaMiB": p.storage_quota // 2**20,
                    }
                    for p in projects
                ]
            )
        )
        return
    for p in projects:
        typer.echo(
            f"{p.name}\t{p.id}\trate-limit={p.rate_limit}\tdialer={p.default_dialer_id or '-'}"
            f"\tstorage-quota={p.storage_quota // 2**20}MiB"
        )


@project_app.command("token")
def project_token(name: str, data: DataOption = None, json_out: JsonOption = False) -> None:
    """Issue another API token for a project."""
    _, store = _store(data)
    token = _mint_token(store, _project(store, name))
    typer.echo(json.dumps({"token": token}) if json_out else token)


@project_app.command("revoke-token")
def project_revoke_token(token_prefix: str, data: DataOption = None) -> None:
    """Revoke the token starting with TOKEN_PREFIX (the 8 characters after 'vx_'), or the
    whole token given. A prefix that two live tokens share revokes nothing."""
    given = token_prefix.removeprefix("vx_")
    prefix = given[:PREFIX_LENGTH]
    if len(given) < PREFIX_LENGTH:
        _fail(f"give at least the first {PREFIX_LENGTH} characters after 'vx_'")
    # Only 8 characters are stored in clear: anything longer must be the whole token.
    whole = len(given) > PREFIX_LENGTH
    _, store = _store(data)
    matched = store.revoke_token(prefix, token_hash=hash_token(f"vx_{given}") if whole else None)
    if matched == 0:
        _fail(f"no live token {'is' if whole else 'starts with'} {token_prefix!r}")
    if matched > 1:
        _fail(
            f"{prefix!r} starts more than one live token; nothing was revoked: give the whole token"
        )
    typer.echo("revoked 1 token")


def _amount(flag: str, text: str) -> int:
    try:
        return parse_toman(text)
    except ValueError as exc:
        _fail(f"{flag}: {exc}")


@project_app.command("topup")
def project_topup(
    name: str,
    amount: Annotated[str, typer.Argument(help="Toman to add.")],
    data: DataOption = None,
    note: Annotated[str, typer.Option(help="Why; kept in the ledger.")] = "top-up",
    json_out: JsonOption = False,
) -> None:
    """Add money to a project's balance (a ledger entry)."""
    milli = _amount("AMOUNT", amount)
    if milli == 0:
        _fail("AMOUNT: must be positive")
    _, store = _store(data)
    entry = store.credit(_project(store, name).id, milli, kind="topup", note=note[:200])
    if json_out:
        typer.echo(json.dumps(_ledger_json(entry)))
    else:
        typer.echo(f"balance of {name}: {toman(entry.balance_after_milli):g} Toman")


def _ledger_json(entry: LedgerEntry) -> dict[str, object]:
    return {
        "transactionId": entry.id,
        "kind": entry.kind,
        "amount": toman(entry.amount_milli),
        "balance": toman(entry.balance_after_milli),
        "callId": entry.call_id,
        "note": entry.note,
        "createdAt": round(entry.created_at, 3),
    }


@project_app.command("statement")
def project_statement(name: str, data: DataOption = None, json_out: JsonOption = False) -> None:
    """The project's ledger, newest first, with the running balance."""
    _, store = _store(data)
    project = _project(store, name)
    entries = store.statement(project.id)
    if json_out:
        current = store.get_project(project.id) or project
        typer.echo(
            json.dumps(
                {
                    "balance": toman(current.balance_milli),
                    "reserved": toman(current.reserved_milli),
                    "available": toman(current.available_milli),
                    "entries": [_ledger_json(e) for e in entries],
                }
            )
        )
        return
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.created_at))
        typer.echo(
            f"{when}\t{e.kind}\t{toman(e.amount_milli):+g}\t"
            f"balance={toman(e.balance_after_milli):g}\t{e.call_id or '-'}\t{e.note}"
        )


@project_app.command("webhook")
def project_webhook(
    name: str,
    url: Annotated[str | None, typer.Argument(help="Where final calls are POSTed.")] = None,
    data: DataOption = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the webhook.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Set the project's webhook URL and print a new signing secret (shown once)."""
    from voxcall.webhooks.signing import new_secret

    _, store = _store(data)
    project = _project(store, name)
    if clear:
        store.set_webhook(project.id, None, None)
        typer.echo(f"webhook of {name} removed")
        return
    if url is None or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        _fail("URL: an http:// or https:// address is required (or --clear)")
    secret = new_secret()
    store.set_webhook(project.id, url, secret)
    if json_out:
        typer.echo(json.dumps({"url": url, "secret": secret}))
    else:
        typer.echo(f"webhook of {name}: {url}\nsecret: {secret}")


@project_app.command("update")
def project_update(
    name: str,
    data: DataOption = None,
    rate_limit: Annotated[int | None, typer.Option(help="Requests per second.", min=1)] = None,
    default_dialer: Annotated[
        str | None, typer.Option(help="Dialer for calls without serverId ('' clears it).")
    ] = None,
    allowed_countries: Annotated[
        str | None, typer.Option(help="Countries it may call, e.g. IR or IR,AE (ISO codes).")
    ] = None,
    storage_quota: Annotated[
        int | None,
        typer.Option(help="MiB its voice files may take (default 500).", min=1, max=2**20),
    ] = None,
) -> None:
    """Change a project's settings."""
    _, store = _store(data)
    project = _project(store, name)
    if default_dialer and store.get_dialer(default_dialer) is None:
        _fail(f"no dialer {default_dialer!r}")
    regions = None
    if allowed_countries is not None:
        regions = [r.strip().upper() for r in allowed_countries.split(",") if r.strip()]
        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if not regions or unknown:
            _fail(f"--allowed-countries: not ISO country codes: {', '.join(unknown) or '(none)'}")
    store.update_project(
        project.id,
        rate_limit=rate_limit,
        default_dialer_id=default_dialer or None,
        clear_default_dialer=default_dialer == "",
        allowed_regions=regions,
        storage_quota=None if storage_quota is None else storage_quota * 2**20,
    )
    typer.echo(f"project {name} updated")


# -- dialers ------------------------------------------------------------------------


def _dialer_config(
    dialer_id: str,
    driver: str,
    name: str,
    options: dict[str, object],
    *,
    channels: int = 10,
    cps: float = 10.0,
    retry_interval: int = 60,
    ring_timeout: int = 45,
    is_default: bool = False,
    tariff: Tariff = FREE,
) -> DialerConfig:
    return DialerConfig(
        id=dialer_id,
        name=name,
        driver=driver,
        options=options,
        channels=channels,
        cps=cps,
        retry_interval=retry_interval,
        ring_timeout=ring_timeout,
        enabled=True,
        is_default=is_default,
        tariff=tariff,
    )


@dialer_app.command("add")
def dialer_add(
    dialer_id: Annotated[str, typer.Argument(metavar="ID")],
    driver: Annotated[str, typer.Option(help=f"One of: {', '.join(DRIVERS)}.")],
    data: DataOption = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    channels: Annotated[int, typer.Option(help="Simultaneous calls.", min=1)] = 10,
    cps: Annotated[float, typer.Option(help="New calls per second.", min=0.01)] = 10.0,
    retry_interval: Annotated[int, typer.Option(help="Seconds between attempts.", min=1)] = 60,
    ring_timeout: Annotated[int, typer.Option(help="Seconds to let it ring.", min=1)] = 45,
    default: Annotated[
        bool, typer.Option("--default", help="Use for calls without serverId.")
    ] = False,
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
    bye_tail: Annotated[int | None, typer.Option(help=BYE_TAIL_HELP)] = None,
    cdr_file: Annotated[
        str | None, typer.Option(help="sandbox: append a JSON line per attempt start and end.")
    ] = None,
    price_per_minute: PriceOption = "0",
    billing_increment: IncrementOption = 60,
    connect_fee: FeeOption = "0",
    reserve_margin: MarginOption = 1,
    json_out: JsonOption = False,
) -> None:
    """Add a dialer server; a running `serve` picks it up at once."""
    tariff = Tariff(
        price_per_minute=_amount("--price-per-minute", price_per_minute),
        billing_increment=billing_increment,
        connect_fee=_amount("--connect-fee", connect_fee),
        reserve_margin=reserve_margin,
    )
    if not SLUG.fullmatch(dialer_id):
        _fail("ID: must match [a-z0-9][a-z0-9_-]{0,31}")
    if driver not in DRIVERS:
        _fail(f"--driver: must be one of {', '.join(DRIVERS)}")
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
    }
    options: dict[str, object] = {k: v for k, v in sip_values.items() if v is not None}
    if driver == "sandbox" and options:
        _fail(f"--{next(iter(options)).replace('_', '-')}: only for --driver sip")
    if cdr_file is not None:
        if driver != "sandbox":
            _fail("--cdr-file: only for --driver sandbox")
        options["cdr_file"] = str(Path(cdr_file).resolve())
    if driver == "sip":
        from voxcall.dialers.sip.driver import SipTrunkConfig

        try:
            options = SipTrunkConfig.from_options(options).to_options()
        except ValueError as exc:
            _fail(str(exc))
    _, store = _store(data)
    config = _dialer_config(
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
    try:
        store.add_dialer(config)
    except Conflict:
        _fail(f"a dialer {dialer_id!r} exists")
    if json_out:
        typer.echo(json.dumps(_dialer_json(config)))
    else:
        typer.echo(f"dialer {dialer_id} added ({driver})")


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


@dialer_app.command("update")
def dialer_update(
    dialer_id: Annotated[str, typer.Argument(metavar="ID")],
    data: DataOption = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    channels: Annotated[int | None, typer.Option(help="Simultaneous calls.", min=1)] = None,
    cps: Annotated[float | None, typer.Option(help="New calls per second.", min=0.01)] = None,
    retry_interval: Annotated[
        int | None, typer.Option(help="Seconds between attempts.", min=1)
    ] = None,
    ring_timeout: Annotated[int | None, typer.Option(help="Seconds to let it ring.", min=1)] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Use for calls without serverId.")
    ] = False,
    price_per_minute: Annotated[str | None, typer.Option(help="Toman per minute.")] = None,
    billing_increment: Annotated[
        int | None, typer.Option(help="Billed in steps of N s.", min=1)
    ] = None,
    connect_fee: Annotated[str | None, typer.Option(help="Toman per answered call.")] = None,
    reserve_margin: Annotated[int | None, typer.Option(help=MARGIN_HELP, min=0, max=3600)] = None,
    bye_tail: Annotated[int | None, typer.Option(help=BYE_TAIL_HELP)] = None,
    json_out: JsonOption = False,
) -> None:
    """Change a dialer's limits or tariff; calls accepted later use the new values."""
    _, store = _store(data)
    current = store.get_dialer(dialer_id)
    if current is None:
        _fail(f"no dialer {dialer_id!r}")
    options = current.options
    if bye_tail is not None:
        if current.driver != "sip":
            _fail("--bye-tail: only for --driver sip")
        from voxcall.dialers.sip.driver import SipTrunkConfig

        try:
            options = SipTrunkConfig.from_options({**options, "bye_tail": bye_tail}).to_options()
        except ValueError as exc:
            _fail(str(exc))
    tariff = Tariff(
        price_per_minute=(
            _amount("--price-per-minute", price_per_minute)
            if price_per_minute is not None
            else current.tariff.price_per_minute
        ),
        billing_increment=billing_increment or current.tariff.billing_increment,
        connect_fee=(
            _amount("--connect-fee", connect_fee)
            if connect_fee is not None
            else current.tariff.connect_fee
        ),
        reserve_margin=(
            reserve_margin if reserve_margin is not None else current.tariff.reserve_margin
        ),
    )
    updated = dataclasses.replace(
        current,
        name=name or current.name,
        channels=channels or current.channels,
        cps=cps or current.cps,
        retry_interval=retry_interval or current.retry_interval,
        ring_timeout=ring_timeout or current.ring_timeout,
        is_default=default or current.is_default,
        tariff=tariff,
        options=options,
    )
    store.update_dialer(updated)
    if json_out:
        typer.echo(json.dumps(_dialer_json(updated)))
    else:
        typer.echo(f"dialer {dialer_id} updated")


@dialer_app.command("list")
def dialer_list(data: DataOption = None, json_out: JsonOption = False) -> None:
    """List dialers."""
    _, store = _store(data)
    dialers = store.list_dialers()
    if json_out:
        typer.echo(json.dumps([_dialer_json(d) for d in dialers]))
        return
    for d in dialers:
        flags = ("enabled" if d.enabled else "disabled") + (" default" if d.is_default else "")
        typer.echo(
            f"{d.id}\t{d.driver}\tchannels={d.channels}\tcps={d.cps:g}\t"
            f"retry={d.retry_interval}s\tring={d.ring_timeout}s\t{flags}"
        )


@dialer_app.command("disable")
def dialer_disable(
    dialer_id: Annotated[str, typer.Argument(metavar="ID")], data: DataOption = None
) -> None:
    """Stop placing new attempts on a dialer (live ones finish)."""
    _, store = _store(data)
    if not store.set_dialer_enabled(dialer_id, False):
        _fail(f"no dialer {dialer_id!r}")
    typer.echo(f"dialer {dialer_id} disabled")


@dialer_app.command("enable")
def dialer_enable(
    dialer_id: Annotated[str, typer.Argument(metavar="ID")], data: DataOption = None
) -> None:
    """Place attempts on a dialer again."""
    _, store = _store(data)
    if not store.set_dialer_enabled(dialer_id, True):
        _fail(f"no dialer {dialer_id!r}")
    typer.echo(f"dialer {dialer_id} enabled")


def main(args: list[str] | None = None) -> None:
    app(args=args if args is not None else sys.argv[1:], prog_name="voxcall")
