"""`voxcall dnc add | remove | list`: a project's do-not-call list (--project NAME), or the
operator's, which stops calls of every project (--global)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from voxcall.calls.errors import RequestRefused
from voxcall.cli.common import Admin, DataOption, JsonOption, fail, open_admin
from voxcall.domain.projects import Project

ProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="The project's list, by its name: --project acme."),
]
GlobalOption = Annotated[
    bool, typer.Option("--global", help="The operator's list, for every project.")
]
PAGE = 1000


def _list_of(admin: Admin, project: str | None, operator: bool) -> tuple[Project | None, str]:
    """The project whose list is meant (None: the operator's), and how to name the list."""
    if (project is None) == (not operator):
        fail("name one list: --project NAME or --global")
    if project is None:
        return None, "the operator's list"
    return admin.projects.named(project), f"the list of {project}"


def add(
    numbers: Annotated[
        list[str] | None,
        typer.Argument(help="Numbers, in any written form: 09121234567 +989351234567."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="A text or CSV list of numbers, as a campaign's: --file numbers.csv."
        ),
    ] = None,
    project: ProjectOption = None,
    global_: GlobalOption = False,
    data: DataOption = None,
    json_out: JsonOption = False,
) -> None:
    """List numbers: calls to them are refused, and waiting calls to them expire."""
    admin = open_admin(data)
    owner, named = _list_of(admin, project, global_)
    if bool(numbers) == (file is not None):
        fail("give the numbers, or --file PATH")
    try:
        if file is None:
            added = admin.dnc.add(owner, numbers or [])
        else:
            with file.open("rb") as stream:
                added = admin.dnc.add_file(owner, stream)
    except OSError as exc:
        fail(f"--file: {exc.strerror}")
    except RequestRefused as exc:
        fail(exc.message)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "added": added.added,
                    "alreadyListed": added.already_listed,
                    "invalid": added.invalid,
                }
            )
        )
        return
    typer.echo(
        f"{named}: {added.added} added, {added.already_listed} already listed, "
        f"{added.invalid} invalid"
    )


def remove(
    number: Annotated[str, typer.Argument(help="A number, in any written form: 09121234567.")],
    project: ProjectOption = None,
    global_: GlobalOption = False,
    data: DataOption = None,
) -> None:
    """Take a number off a list."""
    admin = open_admin(data)
    owner, named = _list_of(admin, project, global_)
    try:
        admin.dnc.remove(owner, number)
    except RequestRefused as exc:
        fail(exc.message)
    typer.echo(f"{number} removed from {named}")


def list_(
    project: ProjectOption = None,
    global_: GlobalOption = False,
    data: DataOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print a list, in E.164 order."""
    admin = open_admin(data)
    owner, _ = _list_of(admin, project, global_)
    entries = []
    after: str | None = None
    while page := admin.dnc.page(owner, after=after, limit=PAGE):
        entries += page
        after = page[-1].phone_number
    if json_out:
        typer.echo(
            json.dumps([{"phoneNumber": e.phone_number, "addedAt": e.added_at} for e in entries])
        )
        return
    for e in entries:
        typer.echo(f"{e.phone_number}\t{e.added_at}")
