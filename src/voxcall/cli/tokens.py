"""`voxcall project token | revoke-token`: a project's API tokens."""

from __future__ import annotations

import json

import typer

from voxcall.cli.common import DataOption, JsonOption, open_admin


def issue(name: str, data: DataOption = None, json_out: JsonOption = False) -> None:
    """Issue another API token for a project."""
    projects = open_admin(data).projects
    token = projects.issue_token(projects.named(name))
    typer.echo(json.dumps({"token": token}) if json_out else token)


def revoke(token_prefix: str, data: DataOption = None) -> None:
    """Revoke the token starting with TOKEN_PREFIX (the 8 characters after 'vx_'), or the
    whole token given. A prefix that two live tokens share revokes nothing."""
    open_admin(data).projects.revoke_token(token_prefix)
    typer.echo("revoked 1 token")
