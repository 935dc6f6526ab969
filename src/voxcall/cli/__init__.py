"""The `voxcall` command: serve, and manage projects and dialers (also while `serve` runs)."""

# Each command group is a module of plain functions; this module names them and runs them.
# A refusal of the services ends a command with `error: <why>` and exit code 1.

from __future__ import annotations

import sys

import typer

from voxcall.calls.errors import AdminRefused
from voxcall.cli import (
    campaigns,
    db,
    dialers,
    dnc,
    holidays,
    money,
    projects,
    serve,
    tokens,
    users,
    webhooks,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.command()(serve.serve)

project_app = typer.Typer(no_args_is_help=True, help="API projects and their tokens.")
project_app.command("create")(projects.create)
project_app.command("list")(projects.list_)
project_app.command("show")(projects.show)
project_app.command("token")(tokens.issue)
project_app.command("revoke-token")(tokens.revoke)
project_app.command("topup")(money.topup)
project_app.command("statement")(money.statement)
project_app.command("webhook")(webhooks.webhook)
project_app.command("update")(projects.update)
app.add_typer(project_app, name="project")

dialer_app = typer.Typer(no_args_is_help=True, help="Dialer servers (trunks).")
dialer_app.command("add")(dialers.add)
dialer_app.command("update")(dialers.update)
dialer_app.command("list")(dialers.list_)
dialer_app.command("disable")(dialers.disable)
dialer_app.command("enable")(dialers.enable)
app.add_typer(dialer_app, name="dialer")

admin_app = typer.Typer(no_args_is_help=True, help="Operator accounts of the console.")
admin_app.command("add")(users.add_operator)
admin_app.command("list")(users.list_operators)
admin_app.command("remove")(users.remove_operator)
app.add_typer(admin_app, name="admin")

user_app = typer.Typer(no_args_is_help=True, help="Project users of the console.")
user_app.command("add")(users.add_user)
user_app.command("list")(users.list_users)
user_app.command("remove")(users.remove_user)
app.add_typer(user_app, name="user")

campaign_app = typer.Typer(no_args_is_help=True, help="Projects' campaigns (lists of calls).")
campaign_app.command("create")(campaigns.create)
campaign_app.command("list")(campaigns.list_)
campaign_app.command("show")(campaigns.show)
campaign_app.command("pause")(campaigns.pause)
campaign_app.command("resume")(campaigns.resume)
campaign_app.command("cancel")(campaigns.cancel)
app.add_typer(campaign_app, name="campaign")

dnc_app = typer.Typer(
    no_args_is_help=True, help="Do-not-call lists: a project's, or the operator's (--global)."
)
dnc_app.command("add")(dnc.add)
dnc_app.command("remove")(dnc.remove)
dnc_app.command("list")(dnc.list_)
app.add_typer(dnc_app, name="dnc")

holiday_app = typer.Typer(
    no_args_is_help=True, help="Public holidays: every calling window is closed on them."
)
holiday_app.command("add")(holidays.add)
holiday_app.command("remove")(holidays.remove)
holiday_app.command("list")(holidays.list_)
app.add_typer(holiday_app, name="holiday")

db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
db_app.command("upgrade")(db.upgrade)
app.add_typer(db_app, name="db")


def main(args: list[str] | None = None) -> None:
    try:
        app(args=args if args is not None else sys.argv[1:], prog_name="voxcall")
    except AdminRefused as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise SystemExit(1) from None
