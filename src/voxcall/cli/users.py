"""`voxcall admin add|list|remove` and `voxcall user add|list|remove`: who signs in to the
console. A password comes from a prompt (asked twice) or, with --password-stdin, from the
first line of standard input."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from voxcall.cli.common import DataOption, JsonOption, fail, open_admin
from voxcall.domain.users import Role

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("password: empty")
    return password


def add_operator(
    username: str, data: DataOption = None, password_stdin: PasswordStdin = False
) -> None:
    """Add an operator account: it sees and manages everything in the console."""
    password = _password(password_stdin)
    operator = open_admin(data).users.add_operator(username, password)
    typer.echo(f"operator {operator.username} added")


def list_operators(data: DataOption = None, json_out: JsonOption = False) -> None:
    """List operator accounts."""
    operators = open_admin(data).users.operators()
    if json_out:
        typer.echo(
            json.dumps(
                [
                    {"username": o.username, "createdAt": o.created_at}
                    | {"lastSeenAt": o.last_seen_at}
                    for o in operators
                ]
            )
        )
        return
    for o in operators:
        typer.echo(o.username)


def remove_operator(username: str, data: DataOption = None) -> None:
    """Remove an operator account and end its sessions."""
    open_admin(data).users.remove_operator(username)
    typer.echo(f"operator {username} removed")


def add_user(
    project: str,
    email: str,
    data: DataOption = None,
    role: Annotated[Role, typer.Option(help="owner: also tokens, webhook, users.")] = Role.MEMBER,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user of PROJECT who signs in with EMAIL."""
    password = _password(password_stdin)
    admin = open_admin(data)
    user = admin.users.add_user(admin.projects.named(project).id, email, role, password)
    typer.echo(f"user {user.email} ({user.role.value}) added to project {project}")


def list_users(
    project: Annotated[str | None, typer.Argument(help="Only this project's users.")] = None,
    data: DataOption = None,
    json_out: JsonOption = False,
) -> None:
    """List project users."""
    admin = open_admin(data)
    names = {p.id: p.name for p in admin.projects.list()}
    project_id = admin.projects.named(project).id if project is not None else None
    users = admin.users.users(project_id)
    if json_out:
        typer.echo(
            json.dumps(
                [
                    {"email": u.email, "project": names[u.project_id], "role": u.role.value}
                    | {"lastSeenAt": u.last_seen_at}
                    for u in users
                ]
            )
        )
        return
    for u in users:
        typer.echo(f"{u.email}\t{names[u.project_id]}\t{u.role.value}")


def remove_user(email: str, data: DataOption = None) -> None:
    """Remove a project user and end their sessions."""
    open_admin(data).users.remove_user(email)
    typer.echo(f"user {email} removed")
