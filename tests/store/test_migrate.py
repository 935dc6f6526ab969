"""Migrations: the schema they build is the one the code declares, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, select

from voxcall.store import migrate
from voxcall.store.database import make_engine
from voxcall.store.schema import metadata
from voxcall.store.store import Store


def test_migrations_build_the_declared_schema(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head()
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_an_unmigrated_database_is_refused(store_url: str) -> None:
    with pytest.raises(migrate.NotMigrated, match="run `voxcall db upgrade`"):
        Store.open(store_url)


def _voxcall(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxcall", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_upgrade_then_serve(postgres_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "VOXCALL_DATABASE_URL": postgres_url}
    data = str(tmp_path / "data")
    refused = _voxcall("serve", "--data", data, "--port", "1", env=env)
    assert refused.returncode == 1
    assert "has no voxcall schema" in refused.stderr
    assert "voxcall db upgrade" in refused.stderr
    upgraded = _voxcall("db", "upgrade", "--data", data, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"database at revision {migrate.head()} (was empty)" in upgraded.stdout
    again = _voxcall("db", "upgrade", "--data", data, env=env)
    assert f"(was {migrate.head()})" in again.stdout
    created = _voxcall("project", "create", "acme", "--json", "--data", data, env=env)
    assert created.returncode == 0, created.stderr


def test_dialers_from_before_the_margin_keep_one_second(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0001")
        with engine.begin() as conn:
            dialers = _table_as_it_is(conn, "dialers")
            row = dict.fromkeys(dialers.columns.keys(), 0) | {
                "id": "old",
                "name": "old",
                "driver": "sandbox",
                "options": "{}",
                "enabled": True,
                "is_default": False,
            }
            conn.execute(dialers.insert().values(row))
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    store = Store.open(store_url)
    try:
        dialer = store.get_dialer("old")
        assert dialer is not None and dialer.tariff.reserve_margin == 1
    finally:
        store.close()


def _table_as_it_is(conn: Connection, name: str) -> Table:
    """The table at the database's current revision, not as the code declares it now."""
    return Table(name, MetaData(), autoload_with=conn)


def test_calls_not_normal_lose_their_bill_seconds(store_url: str) -> None:
    """Before 0005 a call that ended ERROR after an answered attempt kept its seconds."""
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:

            def insert(name: str, *rows: dict[str, object]) -> None:
                table = _table_as_it_is(conn, name)
                zeros = dict.fromkeys(table.columns.keys(), 0)
                conn.execute(table.insert(), [zeros | row for row in rows])

            text = {"name": "p", "allowed_regions": "IR", "format": "wav", "kind": "upload"}
            insert("projects", {"id": "p"} | text)
            insert("voices", {"id": "v", "project_id": "p"} | text)
            insert(
                "calls",
                *(
                    {"id": status, "status": status, "bill_sec": 5, "phase": "final"}
                    | {"project_id": "p", "voice_id": "v", "national_number": "0"}
                    | {"e164": "+0", "cause": ""}
                    for status in ("NORMAL", "ERROR", "NO_ANSWER")
                ),
            )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            calls = metadata.tables["calls"]
            rows = conn.execute(select(calls.c.id, calls.c.bill_sec)).all()
    finally:
        engine.dispose()
    assert sorted(map(tuple, rows)) == [("ERROR", 0), ("NORMAL", 5), ("NO_ANSWER", 0)]
