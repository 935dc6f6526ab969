"""Do-not-call lists (api.md §9): each project's, and the operator's (`project_id` None), of
numbers in E.164. The claim reads them too (claim.py), so a number listed while its calls wait
stops them before their next attempt; and new calls are refused in the transaction that would
write them: one call by its own insert (`unlisted`), a batch by one lookup (`refuse_listed`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    TextClause,
    and_,
    bindparam,
    delete,
    exists,
    select,
    text,
    true,
    union_all,
)

from voxcall.store import schema as t
from voxcall.store.database import Database

_CHUNK = 1000  # numbers looked up by one IN list
# A list file of a million numbers is stored in one transaction: seconds, not the few a
# request may wait for the write lock.
BULK_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class DncCheck:
    """Numbers a write must refuse if one is listed: on the operator's list, and on the
    list of `project_id` unless it is None (which lists apply is the caller's rule)."""

    e164s: Collection[str]
    project_id: str | None


class Listed(Exception):
    """Numbers of a `DncCheck` are listed; nothing of the write was kept."""

    def __init__(self, e164s: set[str]) -> None:
        super().__init__(f"{len(e164s)} number(s) on a do-not-call list")
        self.e164s = e164s


class DoNotCallLists(Database):
    """Numbers that must not be called, by project or for every project."""

    def add_dnc(self, project_id: str | None, e164s: Sequence[str], now: int) -> int:
        """List the numbers not listed yet (repeats once); how many were added."""
        return self._add_new(project_id, [list(dict.fromkeys(e164s))], now, timeout=None)

    def add_dnc_batches(
        self, project_id: str | None, batches: Iterable[Sequence[str]], now: int
    ) -> int:
        """List the numbers of every batch (none repeated), a list file's, in one
        transaction; how many were added."""
        return self._add_new(project_id, batches, now, timeout=BULK_TIMEOUT)

    def _add_new(
        self,
        project_id: str | None,
        batches: Iterable[Sequence[str]],
        now: int,
        *,
        timeout: float | None,
    ) -> int:
        """One statement a batch, which skips the numbers listed already."""
        _, scope = _table(project_id)
        params: dict[str, Any] = {**scope, "added_at": now}
        added = 0
        with self._write(timeout=timeout) as conn:
            postgresql = conn.dialect.name == "postgresql"
            insert_new = _insert_new(project_id, postgresql=postgresql)
            for batch in batches:
                params["numbers"] = list(batch) if postgresql else json.dumps(list(batch))
                added += conn.execute(insert_new, params).rowcount
        return added

    def remove_dnc(self, project_id: str | None, e164: str) -> bool:
        table, _ = _table(project_id)
        with self._write() as conn:
            removed = conn.execute(delete(table).where(_scope(project_id), table.c.e164 == e164))
        return removed.rowcount == 1

    def dnc_entry(self, project_id: str | None, e164: str) -> int | None:
        """When the number was listed; None if it is not."""
        table, _ = _table(project_id)
        with self._read() as conn:
            added: int | None = conn.execute(
                select(table.c.added_at).where(_scope(project_id), table.c.e164 == e164)
            ).scalar_one_or_none()
        return added

    def dnc_page(
        self, project_id: str | None, *, after: str | None, limit: int
    ) -> list[tuple[str, int]]:
        """Up to `limit` entries (E.164, added at) in E.164 order, after `after`."""
        table, _ = _table(project_id)
        query = select(table.c.e164, table.c.added_at).where(_scope(project_id))
        if after is not None:
            query = query.where(table.c.e164 > after)
        with self._read() as conn:
            rows = conn.execute(query.order_by(table.c.e164).limit(limit)).all()
        return [(r.e164, r.added_at) for r in rows]

    def listed_numbers(
        self, project_id: str, e164s: Collection[str], *, project_list: bool
    ) -> set[str]:
        """Which of the numbers are on the operator's list, or (`project_list`) the
        project's."""
        with self._read() as conn:
            return listed(conn, DncCheck(e164s, project_id if project_list else None))


def unlisted(e164: Any, project_id: Any, *, project_list: bool) -> ColumnElement[bool]:
    """SQL: whether the number `e164` is on neither the operator's list nor (`project_list`)
    the list of `project_id`; a primary-key probe of each."""
    operator = exists().where(t.operator_dnc_numbers.c.e164 == e164)
    if not project_list:
        return ~operator
    project = exists().where(t.dnc_numbers.c.project_id == project_id, t.dnc_numbers.c.e164 == e164)
    return and_(~operator, ~project)


def refuse_listed(conn: Connection, check: DncCheck) -> None:
    """Inside a write: Listed if any of the numbers is listed (the caller rolls back)."""
    found = listed(conn, check)
    if found:
        raise Listed(found)


def listed(conn: Connection, check: DncCheck) -> set[str]:
    """Which of the numbers are listed: one statement (a primary-key probe per number on
    each list) per thousand numbers."""
    statement = _LISTED if check.project_id is not None else _OPERATOR_LISTED
    numbers = list(check.e164s)
    found: set[str] = set()
    for start in range(0, len(numbers), _CHUNK):
        chunk = numbers[start : start + _CHUNK]
        found.update(conn.scalars(statement, {"b_e164s": chunk, "b_project": check.project_id}))
    return found


def _table(project_id: str | None) -> tuple[Any, dict[str, str]]:
    if project_id is None:
        return t.operator_dnc_numbers, {}
    return t.dnc_numbers, {"project_id": project_id}


def _insert_new(project_id: str | None, *, postgresql: bool) -> TextClause:
    """Lists a batch of numbers (`numbers`: an array on PostgreSQL, a JSON array on SQLite)
    in one statement, leaving those listed already as they are."""
    table, scope = _table(project_id)
    owner = "".join(f":{column}, " for column in scope)
    if postgresql:
        numbers = f"SELECT {owner}n, :added_at FROM unnest(CAST(:numbers AS text[])) AS n"
    else:  # SQLite: WHERE true keeps ON CONFLICT from reading as a join's constraint
        numbers = f"SELECT {owner}value, :added_at FROM json_each(:numbers) WHERE true"
    columns = ", ".join([*scope, "e164", "added_at"])
    return text(f"INSERT INTO {table.name} ({columns}) {numbers} ON CONFLICT DO NOTHING")


def _scope(project_id: str | None) -> Any:
    if project_id is None:
        return true()
    return t.dnc_numbers.c.project_id == project_id


# Built once: the check of a batch of calls runs in their write.
_E164S: BindParameter[list[str]] = bindparam("b_e164s", expanding=True)
_OPERATOR_LISTED = select(t.operator_dnc_numbers.c.e164).where(
    t.operator_dnc_numbers.c.e164.in_(_E164S)
)
_LISTED = union_all(
    _OPERATOR_LISTED,
    select(t.dnc_numbers.c.e164).where(
        t.dnc_numbers.c.project_id == bindparam("b_project"), t.dnc_numbers.c.e164.in_(_E164S)
    ),
)
