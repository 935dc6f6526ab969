"""`voxcall serve`: the API, the scheduler and the dialers, by role; a demo set-up on ask."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import shutil
import signal
import subprocess
from typing import TYPE_CHECKING, Annotated

import typer

from voxcall.calls.dialers import DialerService, new_dialer
from voxcall.calls.projects import ProjectService
from voxcall.cli.common import DataOption, fail, load_settings
from voxcall.config import DataFolderMismatch
from voxcall.domain.users import Role
from voxcall.store.database import StoreUnavailable
from voxcall.store.migrate import NotMigrated

if TYPE_CHECKING:  # the runtime is imported by `serve` only: other commands start faster
    from voxcall.runtime import Services


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
    body_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a request's body may stop arriving before its connection is closed.",
            min=0.01,
        ),
    ] = 60.0,
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
        fail(f"--role: must be one of {', '.join(ROLES)}")
    fd_limit = raise_fd_limit()  # SIP and RTP sockets need them too, not only clients
    room = connection_room(fd_limit)
    if max_connections is None:
        max_connections = room
    elif max_connections > room:
        fail(
            f"--max-connections: at most {room} under the open-file limit of {fd_limit} "
            "(raise it: LimitNOFILE in the systemd unit, ulimit -n in a shell)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings(data)
    if db_timeout is not None:
        settings = dataclasses.replace(settings, db_timeout=db_timeout)
    try:
        services = build_services(settings)
    except (NotMigrated, DataFolderMismatch) as exc:
        fail(str(exc))
    except StoreUnavailable as exc:
        fail(f"cannot open the database: {exc}")
    services.scheduler.shutdown_grace = grace
    if metrics_port is not None:
        try:
            services.metrics.serve(metrics_port, metrics_host)
        except OSError as exc:
            fail(f"--metrics-port: cannot listen on {metrics_host}:{metrics_port}: {exc}")
    if demo:
        _print_demo(ensure_demo(services), host, port)
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
        http=guarded_http(header_timeout, max_connections, body_timeout),
        loop="uvloop",
    )


async def _work_until_signalled(services: Services) -> None:
    from voxcall.runtime import worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker(services):
        logging.getLogger("voxcall").info("worker %s running", services.scheduler.worker_id)
        await stop.wait()


DEMO_OPERATOR = "admin"
DEMO_USER = "demo@example.com"


@dataclasses.dataclass(frozen=True, slots=True)
class Demo:
    """What `serve --demo` prints: a new API token of the `demo` project, its voice, and the
    console's sign-ins (new passwords each start: only their hashes are kept)."""

    token: str
    voice_id: str
    operator_password: str
    user_password: str


def ensure_demo(services: Services) -> Demo:
    """A sandbox dialer when there is no dialer, a `demo` project with a voice, an operator
    `admin` and the project's owner `demo@example.com`, whose passwords are new each time."""
    dialers = DialerService(services.store)
    projects = ProjectService(services.store)
    if not dialers.list():
        dialers.add(new_dialer("sandbox", "sandbox", "Sandbox", {}, is_default=True))
    project = projects.find("demo") or projects.create("demo", rate_limit=100)
    existing = services.voices.list(project)
    voice_id = (
        existing[0].id
        if existing
        else services.voices.upload(
            project, _demo_audio(), name="welcome", filename="welcome.wav"
        ).id
    )
    users = services.users
    operator_password, user_password = secrets.token_urlsafe(9), secrets.token_urlsafe(9)
    if any(o.username == DEMO_OPERATOR for o in users.operators()):
        users.remove_operator(DEMO_OPERATOR)
    users.add_operator(DEMO_OPERATOR, operator_password)
    if any(u.email == DEMO_USER for u in users.users(project.id)):
        users.remove_user(DEMO_USER)
    users.add_user(project.id, DEMO_USER, Role.OWNER, user_password)
    return Demo(projects.issue_token(project), voice_id, operator_password, user_password)


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


def _print_demo(demo: Demo, host: str, port: int) -> None:
    base = f"http://{host}:{port}/api/v2"
    token, voice_id = demo.token, demo.voice_id
    typer.echo(
        f"""
voxcall is starting on http://{host}:{port} (sandbox dialer, project "demo")

  token:  {token}
  voice:  {voice_id}

Console: http://{host}:{port}/
  operator:      {DEMO_OPERATOR} / {demo.operator_password}
  project user:  {DEMO_USER} / {demo.user_password}

Place a call (numbers ending 0001 are busy, 0002 ring out, 0003 fail, 0004 hang up early):

  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
       -d '{{"phoneNumber": "09121234567", "voiceId": "{voice_id}"}}' {base}/voice/single

Then ask for its status with the id it returned:

  curl -s -H 'Authorization: Bearer {token}' {base}/voice/status/ID
"""
    )
