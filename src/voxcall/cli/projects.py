"""`voxcall project create | list | show | update`: API projects and their settings."""

from __future__ import annotations

import json
from typing import Annotated

import phonenumbers
import typer

from voxcall.billing.money import toman
from voxcall.calls.projects import ProjectService
from voxcall.calls.windows import InvalidWindow, Window
from voxcall.cli.common import DataOption, JsonOption, fail, open_admin, parse_amount
from voxcall.domain.projects import Project

MIB = 2**20


def create(
    name: str,
    data: DataOption = None,
    balance: Annotated[str | None, typer.Option(help="Opening balance in Toman.")] = None,
    rate_limit: Annotated[int, typer.Option(help="Requests per second.", min=1)] = 100,
    json_out: JsonOption = False,
) -> None:
    """Create a project and print its first API token (shown once)."""
    opening = parse_amount("--balance", balance) if balance is not None else 0
    admin = open_admin(data)
    project = admin.projects.create(name, rate_limit=rate_limit, opening_milli=opening)
    token = admin.projects.issue_token(project)
    if json_out:
        typer.echo(
            json.dumps(
                {"id": project.id, "name": project.name, "token": token, "balance": toman(opening)}
            )
        )
    else:
        typer.echo(f"project {project.name} ({project.id})\ntoken: {token}")


def _project_json(project: Project) -> dict[str, object]:
    return {
        "id": project.id,
        "name": project.name,
        "rateLimit": project.rate_limit,
        "defaultDialer": project.default_dialer_id,
        "storageQuotaMiB": project.storage_quota // MIB,
        "window": window.to_json() if (window := ProjectService.window(project)) else None,
    }


def _project_line(p: Project) -> str:
    window = ProjectService.window(p)
    return (
        f"{p.name}\t{p.id}\trate-limit={p.rate_limit}\tdialer={p.default_dialer_id or '-'}"
        f"\tstorage-quota={p.storage_quota // MIB}MiB\twindow={window or '-'}"
    )


def list_(data: DataOption = None, json_out: JsonOption = False) -> None:
    """List projects."""
    projects = open_admin(data).projects.list()
    if json_out:
        typer.echo(json.dumps([_project_json(p) for p in projects]))
        return
    for p in projects:
        typer.echo(_project_line(p))


def show(name: str, data: DataOption = None, json_out: JsonOption = False) -> None:
    """Print one project's settings."""
    project = open_admin(data).projects.named(name)
    if json_out:
        typer.echo(json.dumps(_project_json(project)))
    else:
        typer.echo(_project_line(project))


def _regions(text: str) -> list[str]:
    """`--allowed-countries`: ISO codes separated by commas, in any case."""
    regions = [r.strip().upper() for r in text.split(",") if r.strip()]
    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if not regions or unknown:
        fail(f"--allowed-countries: not ISO country codes: {', '.join(unknown) or '(none)'}")
    return regions


def update(
    name: Annotated[str, typer.Argument(help="The project's name.")],
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
    window: Annotated[
        str | None,
        typer.Option(
            help="Default calling window: days (a range or a list, sat to fri), hours HH:MM-HH:MM "
            '(they may wrap midnight; 24:00 ends a day) and a time zone (IANA, or "callee" for '
            'the number\'s), e.g. "sat-wed 09:00-20:00 Asia/Tehran" or "mon,wed,fri 22:00-06:00 '
            'callee"; "none" removes it.'
        ),
    ] = None,
) -> None:
    """Change a project's settings."""
    clear_window = window is not None and window.strip().lower() == "none"
    try:
        new_window = (
            Window.parse(window, field="--window")
            if window is not None and not clear_window
            else None
        )
    except InvalidWindow as exc:
        fail(str(exc))
    projects = open_admin(data).projects
    projects.update(
        projects.named(name),
        rate_limit=rate_limit,
        default_dialer=default_dialer,
        allowed_regions=None if allowed_countries is None else _regions(allowed_countries),
        storage_quota=None if storage_quota is None else storage_quota * MIB,
        window=new_window,
        clear_window=clear_window,
    )
    typer.echo(f"project {name} updated")
