"""Group commit on a real SQLite file: units share a transaction, a failing unit rolls back
alone, a failed commit fails every unit of its group, and a unit out of time writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from voxcall.store.database import make_engine
from voxcall.store.group_commit import GroupCommit


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    yield engine
    engine.dispose()


def rows(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [n for (n,) in conn.exec_driver_sql("SELECT n FROM t ORDER BY n")]


class Boom(Exception):
    pass


class Late(Exception):
    pass


def insert_then(n: int, fail: bool) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})
        conn.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n + 1000})
        if fail:
            raise Boom(n)
        return n

    return work


def test_concurrent_units_share_commits_and_fail_alone(engine: Engine) -> None:
    commits = 0
    lock = threading.Lock()

    @contextmanager
    def transaction() -> Iterator[Connection]:
        nonlocal commits
        with lock, engine.begin() as conn:
            yield conn
        commits += 1

    group = GroupCommit(transaction, 30.0, Late)
    results: dict[int, object] = {}

    def client(n: int) -> None:
        try:
            results[n] = group.run(insert_then(n, fail=n % 3 == 0))
        except Boom as exc:
            results[n] = exc

    threads = [threading.Thread(target=client, args=(n,)) for n in range(1, 61)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = [n for n in range(1, 61) if n % 3]
    assert rows(engine) == kept + [n + 1000 for n in kept]
    assert all(results[n] == n for n in kept)
    assert all(isinstance(results[n], Boom) for n in range(3, 61, 3))
    assert commits < 60  # some units shared a commit


def test_a_failed_commit_fails_the_whole_group(engine: Engine) -> None:
    @contextmanager
    def transaction() -> Iterator[Connection]:
        with engine.begin() as conn:
            yield conn
            raise OSError("disk full")  # as a failing COMMIT would: the transaction rolls back

    group = GroupCommit(transaction, 30.0, Late)
    with pytest.raises(OSError, match="disk full"):
        group.run(insert_then(1, fail=False))
    assert rows(engine) == []


def test_a_unit_queued_past_its_deadline_leaves_and_writes_nothing(engine: Engine) -> None:
    """A group holds the writer (a slow commit); a unit queued behind it gives up at its
    deadline and is not written by the group after."""
    hold, holding = threading.Event(), threading.Event()

    @contextmanager
    def transaction() -> Iterator[Connection]:
        with engine.begin() as conn:
            yield conn

    def slow(conn: Connection) -> int:
        holding.set()
        hold.wait(30)
        return 0

    group = GroupCommit(transaction, 0.2, Late)
    leader = threading.Thread(target=group.run, args=(slow,))
    leader.start()
    assert holding.wait(30)
    try:
        with pytest.raises(Late):
            group.run(insert_then(1, fail=False))
    finally:
        hold.set()
        leader.join(30)
    assert group.run(insert_then(5, fail=False)) == 5
    assert rows(engine) == [5, 1005]


def test_a_unit_whose_group_starts_after_its_deadline_is_not_run(engine: Engine) -> None:
    now = [0.0]

    @contextmanager
    def transaction() -> Iterator[Connection]:
        now[0] += 10  # the writer's lock took 10 s to get
        with engine.begin() as conn:
            yield conn

    group = GroupCommit(transaction, 5.0, Late, clock=lambda: now[0])
    with pytest.raises(Late):
        group.run(insert_then(1, fail=False))
    assert rows(engine) == []
