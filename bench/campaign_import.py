"""Importing a campaign's list (issue 12): a CSV of a million numbers becomes a campaign, on
SQLite and on PostgreSQL, against a bare bulk insert of the same rows in the same run.

The import is what `POST /campaign` with a file does after the upload: the list read in one
streaming pass (parse, validate, find repeats), staged, and stored with the campaign in one
transaction (executemany on SQLite, COPY on PostgreSQL). The bare insert is the floor: the
same rows, already parsed and in memory, written by the driver in one transaction, with no
campaign, no parsing and no staging. Both commit durably (SQLite synchronous=FULL; PostgreSQL
with fsync and synchronous_commit on). Wall-clock figures, with this process's CPU
seconds beside them (PostgreSQL's own work is not in those): run on a quiet machine.

    python -m bench.campaign_import [--rows 1000000] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bench.common import free_port, self_cpu_seconds
from voxcall.calls.campaigns import CampaignFields, CampaignService
from voxcall.calls.dialers import new_dialer
from voxcall.calls.service import CallService
from voxcall.domain.voices import Voice
from voxcall.store import migrate, schema
from voxcall.store.database import make_engine
from voxcall.store.store import Store

TARGET_RATE = 100_000  # numbers per second
TARGET_RATIO = 0.5  # of the bare insert's rate


def write_list(path: Path, rows: int) -> list[tuple[int, str, str]]:
    """A CSV of `rows` distinct Iranian mobile numbers under a header, in the forms lists
    come in; the rows as the bare insert writes them (line, national, E.164)."""
    parsed = []
    forms = ("0{}", "+98{}", "98{}", "{}")
    with path.open("w") as out:
        out.write("name,phoneNumber\n")
        for i in range(rows):
            significant = f"912{i:07d}"
            out.write(f"customer {i},{forms[i % 4].format(significant)}\n")
            parsed.append((i + 2, f"0{significant}", f"+98{significant}"))
    return parsed


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL cluster of its own in a temporary folder, durable settings (fsync on)."""
    from tests.peers.postgres import _as_postgres, _bin

    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise SystemExit("PostgreSQL is not installed: scripts/bootstrap --dev installs it")
    folder = Path(tempfile.mkdtemp(prefix="voxcall-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "voxcall", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_wal_size=4GB"
    subprocess.run(
        _as_postgres(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://voxcall@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Result:
    backend: str
    rows: int
    import_s: float
    bare_s: float
    import_cpu: float  # this process's CPU seconds (not PostgreSQL's)
    bare_cpu: float

    @property
    def import_rate(self) -> float:
        return self.rows / self.import_s

    @property
    def bare_rate(self) -> float:
        return self.rows / self.bare_s


def bare_insert(store: Store, rows: list[tuple[int, str, str]]) -> float:
    """The same rows written by the driver alone in one transaction, under a list key of
    their own; seconds."""
    seq = 10**9
    started = time.perf_counter()
    with store.engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        if conn.dialect.name == "postgresql":
            with cursor.copy(
                "COPY campaign_numbers (campaign_seq, position, line, national_number, e164) "
                "FROM STDIN"
            ) as copy:
                for position, (line, national, e164) in enumerate(rows):
                    copy.write_row((seq, position, line, national, e164))
            driver.commit()
        else:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(
                "INSERT INTO campaign_numbers VALUES (?, ?, ?, ?, ?)",
                [(seq, p, line, n, e) for p, (line, n, e) in enumerate(rows)],
            )
            cursor.execute("COMMIT")
        cursor.close()
    return time.perf_counter() - started


def stored_list(store: Store, campaign_id: str) -> list[tuple[int, str, str]]:
    """The campaign's list as stored, in list order: the rows the bare insert writes."""
    numbers, campaigns = schema.campaign_numbers, schema.campaigns
    with store.engine.connect() as conn:
        stored = conn.execute(
            select(numbers.c.line, numbers.c.national_number, numbers.c.e164)
            .join(campaigns, campaigns.c.seq == numbers.c.campaign_seq)
            .where(campaigns.c.id == campaign_id)
            .order_by(numbers.c.position)
        )
        return [tuple(row) for row in stored]


def measure(backend: str, url: str, list_file: Path, rows: list[tuple[int, str, str]]) -> Result:
    if backend == "postgresql":
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
    # An import holds statements longer than a request's 5 s when the machine is slow.
    store = Store.open(url, create=True, timeout=300.0)
    try:
        store.add_dialer(new_dialer("sandbox", "sandbox", "Sandbox", {}, is_default=True))
        project = store.create_project("bench", rate_limit=100, allowed_regions=["IR"])
        voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 2.0, int(time.time()))
        store.add_voice(voice)
        campaigns = CampaignService(store, CallService(store))
        cpu = self_cpu_seconds()
        bare_s = bare_insert(store, rows)
        bare_cpu = self_cpu_seconds() - cpu
        started, cpu = time.perf_counter(), self_cpu_seconds()
        with list_file.open("rb") as stream:
            campaign = campaigns.create(
                project, CampaignFields(name="bench", voice_id=voice.id), stream
            )
        import_s, import_cpu = time.perf_counter() - started, self_cpu_seconds() - cpu
        assert campaign.total == len(rows), campaign.total
        assert stored_list(store, campaign.id) == rows, "the import stored other rows"
    finally:
        store.close()
    return Result(backend, len(rows), import_s, bare_s, import_cpu, bare_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="voxcall-bench-import-"))
    try:
        list_file = folder / "list.csv"
        rows = write_list(list_file, args.rows)
        size = list_file.stat().st_size
        print(f"\n## Campaign import: {args.rows:,} numbers, a {size / 2**20:.1f} MiB CSV\n")
        results = []
        if args.backend in ("sqlite", "both"):
            results.append(measure("sqlite", f"sqlite:///{folder / 'db.sqlite'}", list_file, rows))
        if args.backend in ("postgresql", "both"):
            with postgres() as url:
                results.append(measure("postgresql", url, list_file, rows))
        print(
            "| backend | import s (cpu) | numbers/s | bare insert s (cpu) | bare numbers/s "
            "| ratio | holds |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in results:
            ratio = r.import_rate / r.bare_rate
            holds = ratio >= TARGET_RATIO and r.import_rate >= TARGET_RATE
            print(
                f"| {r.backend} | {r.import_s:.2f} ({r.import_cpu:.2f}) | {r.import_rate:,.0f} "
                f"| {r.bare_s:.2f} ({r.bare_cpu:.2f}) | {r.bare_rate:,.0f} | {ratio:.2f} "
                f"| {'yes' if holds else 'NO'} |"
            )
        print(f"\ntargets: >= {TARGET_RATE:,} numbers/s and >= {TARGET_RATIO} of the bare insert")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
