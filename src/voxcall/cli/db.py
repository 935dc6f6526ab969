"""`voxcall db`: the database schema."""

from __future__ import annotations

import math

import typer

from voxcall.cli.common import DataOption, fail, load_settings
from voxcall.config import DataFolderMismatch


def upgrade(data: DataOption = None) -> None:
    """Apply the schema migrations (SQLite or PostgreSQL) up to this version's head."""
    from voxcall.store import migrate
    from voxcall.store.database import make_engine

    settings = load_settings(data)
    try:
        settings.prepare()
    except DataFolderMismatch as exc:
        fail(str(exc))
    engine = make_engine(settings.database_url, timeout=math.inf)  # a migration may take long
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
    except Exception as exc:  # the driver's own errors: unreachable, refused, ...
        fail(f"cannot migrate the database: {exc}")
    finally:
        engine.dispose()
    typer.echo(f"database at revision {migrate.head()} (was {before or 'empty'})")
