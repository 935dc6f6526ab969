"""Schema migrations with Alembic, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


class NotMigrated(Exception):
    """The database is not at the schema this voxcall needs."""


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    current = script.get_current_head()
    assert current is not None
    return current


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to `revision`."""
    config = _config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def check(engine: Engine) -> None:
    """Refuse a database that is not at the head revision."""
    found = current_revision(engine)
    if found != head():
        state = "has no voxcall schema" if found is None else f"is at revision {found}"
        raise NotMigrated(
            f"the database {state}; this voxcall needs {head()}: run `voxcall db upgrade`"
        )
