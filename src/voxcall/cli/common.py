"""What every management command shares: its options, opening the services, failing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from voxcall.billing.money import parse_toman
from voxcall.calls.accounts import AccountService
from voxcall.calls.campaigns import CampaignService
from voxcall.calls.dialers import DialerService
from voxcall.calls.dnc_lists import DncService
from voxcall.calls.holidays import HolidayService
from voxcall.calls.projects import ProjectService
from voxcall.calls.service import CallService
from voxcall.calls.users import UserService
from voxcall.config import DataFolderMismatch, Settings
from voxcall.store.database import StoreUnavailable
from voxcall.store.migrate import NotMigrated
from voxcall.store.store import Store

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data folder (default ./var or $VOXCALL_DATA)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def load_settings(data: Path | None) -> Settings:
    try:
        return Settings.load(data)
    except ValueError as exc:  # an environment variable that is not what it must be
        fail(str(exc))


def _open_store(data: Path | None) -> Store:
    settings = load_settings(data)
    try:
        settings.prepare()
        return Store.open(
            settings.database_url, create=settings.embedded, timeout=settings.db_timeout
        )
    except (DataFolderMismatch, NotMigrated) as exc:
        fail(str(exc))
    except StoreUnavailable as exc:
        fail(f"cannot open the database: {exc}")


@dataclass(frozen=True, slots=True)
class Admin:
    """The services management commands use, over the data folder's database."""

    projects: ProjectService
    dialers: DialerService
    accounts: AccountService
    users: UserService
    campaigns: CampaignService
    dnc: DncService
    holidays: HolidayService


def open_admin(data: Path | None) -> Admin:
    store = _open_store(data)
    return Admin(
        ProjectService(store),
        DialerService(store),
        AccountService(store),
        UserService(store),
        CampaignService(store, CallService(store)),
        DncService(store),
        HolidayService(store),
    )


def parse_amount(flag: str, text: str) -> int:
    """Toman as given on the command line, in milli-Toman; refused naming `flag`."""
    try:
        return parse_toman(text)
    except ValueError as exc:
        fail(f"{flag}: {exc}")
