"""`voxcall project webhook`: where a project's final calls are POSTed."""

from __future__ import annotations

import json
import urllib.parse
from typing import Annotated

import typer

from voxcall.cli.common import DataOption, JsonOption, fail, open_admin


def webhook(
    name: str,
    url: Annotated[str | None, typer.Argument(help="Where final calls are POSTed.")] = None,
    data: DataOption = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the webhook.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Set the project's webhook URL and print a new signing secret (shown once)."""
    projects = open_admin(data).projects
    project = projects.named(name)
    if clear:
        projects.clear_webhook(project)
        typer.echo(f"webhook of {name} removed")
        return
    if url is None or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        fail("URL: an http:// or https:// address is required (or --clear)")
    secret = projects.set_webhook(project, url)
    if json_out:
        typer.echo(json.dumps({"url": url, "secret": secret}))
    else:
        typer.echo(f"webhook of {name}: {url}\nsecret: {secret}")
