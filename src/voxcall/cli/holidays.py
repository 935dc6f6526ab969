"""`voxcall holiday add | remove | list`: the operator's public holidays (api.md §10), on
which every calling window of every project is closed."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from voxcall.cli.common import DataOption, JsonOption, open_admin

DateArgument = Annotated[str, typer.Argument(metavar="DATE", help="An ISO date: 2026-03-21.")]


def add(day: DateArgument, data: DataOption = None) -> None:
    """Make a date a holiday: no attempt starts on it (in each window's zone)."""
    holiday, new = open_admin(data).holidays.add(day)
    typer.echo(f"{holiday.isoformat()} {'added' if new else 'was a holiday already'}")


def remove(day: DateArgument, data: DataOption = None) -> None:
    """Make a holiday a working date again."""
    holiday = open_admin(data).holidays.remove(day)
    typer.echo(f"{holiday.isoformat()} removed")


def list_(data: DataOption = None, json_out: JsonOption = False) -> None:
    """Print the holidays in date order."""
    holidays = open_admin(data).holidays.list()
    if json_out:
        typer.echo(
            json.dumps([{"date": day.isoformat(), "addedAt": added} for day, added in holidays])
        )
        return
    for day, added in holidays:
        typer.echo(f"{day.isoformat()}\t{added}")
