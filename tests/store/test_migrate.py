"""Migrations: the schema they build is the one the code declares, on both backends."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, Table, select

from voxcall.store import migrate
from voxcall.store.database import make_engine
from voxcall.store.schema import metadata
from voxcall.store.store import Store
from voxcall.webhooks.event import event_body


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


def _insert(conn: Connection, name: str, *rows: dict[str, object]) -> None:
    """Rows into the table as it is now, each column not given 0."""
    table = _table_as_it_is(conn, name)
    zeros = dict.fromkeys(table.columns.keys(), 0)
    conn.execute(table.insert(), [zeros | row for row in rows])


_TEXT = {"name": "p", "allowed_regions": "IR", "format": "wav", "kind": "upload"}


def _project_and_voice(conn: Connection, **project: object) -> None:
    """Project "p" and its voice "v"."""
    _insert(conn, "projects", {"id": "p"} | _TEXT | project)
    _insert(conn, "voices", {"id": "v", "project_id": "p"} | _TEXT)


def test_calls_not_normal_lose_their_bill_seconds(store_url: str) -> None:
    """Before 0005 a call that ended ERROR after an answered attempt kept its seconds."""
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            _project_and_voice(conn)
            _insert(
                conn,
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


def test_existing_campaigns_get_their_counts(store_url: str) -> None:
    """0015 keeps a campaign's final calls by status: those of campaigns from before it are
    counted once, the calls not final and a batch's calls are not."""
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0014")
        with engine.begin() as conn:
            _project_and_voice(conn)
            _insert(
                conn,
                "campaigns",
                {"seq": 1, "id": "k", "project_id": "p", "name": "k", "voice_id": "v"}
                | {"state": "active", "skipped": "{}", "rejected": "[]", "total": 5},
            )
            ended = [("NORMAL", "final", 900), ("NORMAL", "final", 700)]
            ended += [("NO_ANSWER", "final", 0), ("WAITING", "queued", 0)]
            _insert(
                conn,
                "calls",
                *(
                    {"id": f"c{i}", "campaign_id": "k", "campaign_index": i, "call_class": 3}
                    | {"status": status, "phase": phase, "price_milli": price}
                    | {"project_id": "p", "voice_id": "v", "national_number": "0"}
                    | {"e164": "+0", "cause": ""}
                    for i, (status, phase, price) in enumerate(ended)
                ),
                {"id": "b", "campaign_id": "batch", "status": "NORMAL", "phase": "final"}
                | {"project_id": "p", "voice_id": "v", "national_number": "0"}
                | {"e164": "+0", "cause": "", "call_class": 2, "price_milli": 500},
            )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            counts = metadata.tables["campaign_counts"]
            rows = conn.execute(select(counts)).all()
    finally:
        engine.dispose()
    assert sorted(map(tuple, rows)) == [("k", "NORMAL", 2, 1600), ("k", "NO_ANSWER", 1, 0)]


def test_the_overview_counters_are_filled_from_the_final_calls(store_url: str) -> None:
    """0017 counts the calls already final, by 10 minutes of request and status; a call
    still waiting is counted by the overview from `calls`, not in the counters."""
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0016")
        with engine.begin() as conn:
            _project_and_voice(conn)
            calls = [
                # id, status, phase, request date, attempts, billSec, price
                ("a", "NORMAL", "final", 1_800_000_000, 1, 7, 3000),
                ("b", "NORMAL", "final", 1_800_000_599, 2, 5, 2000),
                ("c", "NO_ANSWER", "final", 1_800_000_100, 1, 0, 0),
                ("d", "EXPIRED", "final", 1_800_000_100, 0, 0, 0),
                ("e", "ERROR", "final", 1_800_000_600, 1, 4, 0),  # billSec of no answer
                ("f", "WAITING", "queued", 1_800_000_100, 1, 0, 0),
            ]
            _insert(
                conn,
                "calls",
                *(
                    dict(zip(("id", "status", "phase", "request_date"), row[:4], strict=True))
                    | {"attempts": row[4], "bill_sec": row[5], "price_milli": row[6]}
                    | {"project_id": "p", "voice_id": "v", "national_number": "0"}
                    | {"e164": "+0", "cause": "", "lane": "", "gather": None}
                    for row in calls
                ),
            )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            counts = metadata.tables["overview_counts"]
            rows = conn.execute(select(counts).order_by(counts.c.bucket, counts.c.status)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("p", 1_800_000_000 // 600 * 600, "EXPIRED", 1, 0, 0, 0),
        ("p", 1_800_000_000 // 600 * 600, "NORMAL", 2, 2, 12, 5000),
        ("p", 1_800_000_000 // 600 * 600, "NO_ANSWER", 1, 1, 0, 0),
        ("p", 1_800_000_600, "ERROR", 1, 1, 0, 0),
    ]


def test_last_seen_is_taken_from_the_live_sessions(store_url: str) -> None:
    """0018 keeps on each account the latest request of its live sessions."""
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0017")
        with engine.begin() as conn:
            _insert(conn, "projects", {"id": "p", "name": "p", "allowed_regions": "IR"})
            _insert(conn, "operators", {"id": "o", "username": "root", "password_hash": ""})
            _insert(
                conn,
                "project_users",
                *(
                    {"id": u, "project_id": "p", "email": f"{u}@x", "password_hash": ""}
                    | {"role": "member"}
                    for u in ("ann", "bob")
                ),
            )
            _insert(
                conn,
                "console_sessions",
                *(
                    {"id": sid, "operator_id": o, "user_id": u, "csrf_token": "", "last_seen_at": t}
                    for sid, o, u, t in [
                        ("s1", None, "ann", 100.0),
                        ("s2", None, "ann", 250.0),
                        ("s3", "o", None, 300.0),
                    ]
                ),
            )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            users = metadata.tables["project_users"].c
            operators = metadata.tables["operators"].c
            seen = dict(conn.execute(select(users.id, users.last_seen_at)).all())
            root = conn.execute(select(operators.last_seen_at)).scalar_one()
    finally:
        engine.dispose()
    assert (seen, root) == ({"ann": 250.0, "bob": None}, 300.0)


URL = "http://127.0.0.1:9/hook"
# The body written into the outbox before 0010, when the call below became final.
BODY_0009 = (
    '{"requestId":"c1","campaignId":null,"balanceSubtracted":34.2,"cause":"NORMAL",'
    '"statusCode":1,"billSec":7,"number":"09121234567","requestDate":1764190000,'
    '"executionDate":1764190001}'
)


def _downgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_a_pending_event_from_before_0010_is_delivered_with_its_body(store_url: str) -> None:
    """0010 drops the outbox's body: the event is rendered from its call, to the same bytes,
    and a downgrade writes them back."""
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0009")
        with engine.begin() as conn:
            _project_and_voice(conn, webhook_url=URL, webhook_secret="whsec_x")
            call = {"id": "c1", "project_id": "p", "voice_id": "v", "campaign_id": None}
            call |= {"national_number": "09121234567", "e164": "+989121234567", "cause": ""}
            call |= {"status": "NORMAL", "phase": "final", "bill_sec": 7, "price_milli": 34_200}
            call |= {"request_date": 1764190000, "execution_date": 1764190001, "attempts": 1}
            _insert(conn, "calls", call | {"dialer_id": None, "retry_interval": None})
            event = {"id": "e1", "project_id": "p", "call_id": "c1", "payload": BODY_0009}
            pending = {"delivered_at": None, "failed_at": None, "next_attempt_at": 1.0}
            _insert(conn, "webhook_events", event | pending | {"last_error": ""})
        migrate.upgrade(engine)
        store = Store.open(store_url)
        try:
            (delivery,) = store.lease_webhooks(2.0, limit=10, lease=30.0, per_project=10)
        finally:
            store.close()
        assert (delivery.id, delivery.url) == ("e1", URL)
        # The same bytes, and api.md §11's fields that 0014 added.
        assert (
            event_body(delivery.call)
            == (BODY_0009.removesuffix("}") + ',"digits":"","answeredBy":null}').encode()
        )
        _downgrade(engine, "0009")
        with engine.connect() as conn:
            events = _table_as_it_is(conn, "webhook_events")
            assert conn.execute(select(events.c.payload)).scalar_one() == BODY_0009
    finally:
        engine.dispose()


def test_no_migration_depends_on_the_application() -> None:
    """A migration keeps meaning what it meant when written: it imports alembic and
    SQLAlchemy, never voxcall's code, which changes after it."""
    for path in sorted((migrate.MIGRATIONS / "versions").glob("0*.py")):
        tree = ast.parse(path.read_text())
        modules = [
            *(
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import)
                for alias in node.names
            ),
            *(node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)),
        ]
        assert not [m for m in modules if m.split(".")[0] == "voxcall"], path.name
