"""Do-not-call lists in the store, on SQLite and PostgreSQL: entries, pages, and the claim
that expires a waiting call whose number was listed (the project's list, or the operator's,
which one-time codes do not ignore)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from voxcall.domain.calls import (
    LISTED_WHILE_WAITING,
    AttemptRecord,
    CallClass,
    CallStatus,
    NewCall,
)
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store.dnc import DncCheck, Listed
from voxcall.store.store import Store


@pytest.fixture
def project(store: Store) -> Project:
    return store.create_project("p", rate_limit=10, allowed_regions=["IR"])


def _new_call(
    store: Store,
    project: Project,
    e164: str,
    call_class: CallClass,
    *,
    retries: int = 0,
    reserved_milli: int = 0,
) -> NewCall:
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = int(time.time())
    return NewCall(
        id=uuid.uuid4().hex,
        project_id=project.id,
        campaign_id=None,
        voice_id=voice_id,
        national_number="0" + e164[3:],
        e164=e164,
        dialer_id="d1",
        retry_count=retries,
        retry_interval=None,
        request_date=now,
        expires_at=now + 3600,
        reserved_milli=reserved_milli,
        call_class=call_class,
    )


def _queue(
    store: Store, project: Project, e164: str, call_class: CallClass, *, retries: int = 0
) -> str:
    (call,) = store.insert_calls([_new_call(store, project, e164, call_class, retries=retries)])
    return call.id


def _claim(store: Store) -> list[str]:
    dialer = store.get_dialer("d1")
    assert dialer is not None
    return [a.call.id for a in store.claim_due(dialer, 10, time.time())]


def test_entries_are_kept_once_paged_in_order_and_removed(store: Store, project: Project) -> None:
    numbers = ["+989121234569", "+989121234567", "+12025550123"]
    assert store.add_dnc(project.id, [*numbers, numbers[0]], 100) == 3
    assert store.add_dnc(project.id, numbers[:1], 200) == 0
    assert store.dnc_entry(project.id, numbers[0]) == 100
    assert store.dnc_entry(None, numbers[0]) is None  # the operator's list is another
    assert store.dnc_page(project.id, after=None, limit=2) == [
        ("+12025550123", 100),
        ("+989121234567", 100),
    ]
    assert store.dnc_page(project.id, after="+989121234567", limit=2) == [("+989121234569", 100)]
    assert store.remove_dnc(project.id, numbers[0]) is True
    assert store.remove_dnc(project.id, numbers[0]) is False
    other = store.create_project("q", rate_limit=10, allowed_regions=["IR"])
    assert store.dnc_page(other.id, after=None, limit=10) == []


def test_listed_numbers_by_list(store: Store, project: Project) -> None:
    store.add_dnc(project.id, ["+989121234567"], 1)
    store.add_dnc(None, ["+989121234568"], 1)
    asked = {"+989121234567", "+989121234568", "+989121234569"}
    assert store.listed_numbers(project.id, asked, project_list=True) == asked - {"+989121234569"}
    assert store.listed_numbers(project.id, asked, project_list=False) == {"+989121234568"}


@pytest.mark.parametrize(
    ("listed_on", "project_list", "refused"),
    [
        ("project", True, True),
        ("project", False, False),  # a one-time code: the project's list does not apply
        ("operator", True, True),
        ("operator", False, True),
    ],
)
@pytest.mark.parametrize("batch", [False, True])
def test_a_write_checked_against_the_lists_keeps_nothing_when_one_is_listed(
    store: Store, project: Project, listed_on: str, project_list: bool, refused: bool, batch: bool
) -> None:
    """One call is left out by its insert, a batch looked up first: either way the write
    keeps nothing and names the listed numbers."""
    store.credit(project.id, 10_000, kind="topup", note="")
    store.add_dnc(project.id if listed_on == "project" else None, ["+989121234568"], 1)
    numbers = ["+989121234567", "+989121234568", "+12025550123"] if batch else ["+989121234568"]
    calls = [
        _new_call(store, project, e164, CallClass.SINGLE, reserved_milli=1000) for e164 in numbers
    ]
    check = DncCheck(set(numbers), project.id if project_list else None)
    if not refused:
        assert len(store.insert_calls(calls, dnc=check)) == len(numbers)
        return
    with pytest.raises(Listed) as raised:
        store.insert_calls(calls, dnc=check)
    assert raised.value.e164s == {"+989121234568"}
    assert store.count_calls(project_id=project.id) == {}
    after = store.get_project(project.id)
    assert after is not None and after.reserved_milli == 0


@pytest.mark.parametrize("numbers", [{"+989121234567"}, {"+989121234567", "+12025550123"}])
def test_the_write_looks_numbers_up_by_primary_key_on_both_lists(
    store: Store, project: Project, numbers: set[str]
) -> None:
    """EXPLAIN QUERY PLAN of the statement the write ran (one call's insert, a batch's
    lookup), on SQLite: one search of each list's primary key, never a scan."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's plan depends on its statistics (BENCHMARKS.md §9)")
    ran: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "dnc_numbers" in statement:
            ran.append((statement, parameters))

    calls = [_new_call(store, project, e164, CallClass.SINGLE) for e164 in numbers]
    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        store.insert_calls(calls, dnc=DncCheck(numbers, project.id))
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)
    ((statement, parameters),) = ran
    with store.engine.connect() as conn:
        plan = [
            row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
    steps = [step for step in plan if "dnc_numbers" in step]
    assert len(steps) == 2, plan
    assert all(step.startswith("SEARCH") and "INDEX" in step for step in steps), plan


@pytest.mark.parametrize("operator", [False, True])
def test_a_number_listed_while_its_call_waits_expires_at_the_claim(
    store: Store, project: Project, operator: bool
) -> None:
    listed = _queue(store, project, "+989121234567", CallClass.SINGLE)
    free = _queue(store, project, "+989121234568", CallClass.SINGLE)
    store.add_dnc(None if operator else project.id, ["+989121234567"], 1)
    assert _claim(store) == [free]
    call = store.get_call(project.id, listed)
    assert call is not None
    assert (call.status, call.cause, call.attempts) == (
        CallStatus.EXPIRED,
        LISTED_WHILE_WAITING.cause,
        0,
    )
    assert store.attempts_of(listed) == []


def test_one_time_codes_ignore_the_projects_list_not_the_operators(
    store: Store, project: Project
) -> None:
    code = _queue(store, project, "+989121234567", CallClass.ONE_TIME_CODE)
    store.add_dnc(project.id, ["+989121234567", "+989121234568"], 1)
    stopped = _queue(store, project, "+989121234568", CallClass.ONE_TIME_CODE)
    store.add_dnc(None, ["+989121234568"], 1)
    assert _claim(store) == [code]
    call = store.get_call(project.id, stopped)
    assert call is not None and call.status is CallStatus.EXPIRED


def test_an_attempt_in_progress_ends_and_its_retry_is_expired(
    store: Store, project: Project
) -> None:
    call_id = _queue(store, project, "+989121234567", CallClass.BATCH, retries=2)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (attempt,) = store.claim_due(dialer, 10, time.time())
    store.add_dnc(project.id, ["+989121234567"], 1)
    retry = AttemptRecord(
        attempt.attempt_id, "BUSY", None, time.time(), 0, "busy", CallStatus.WAITING, 0.0
    )
    assert store.finish_attempt(call_id, retry)
    assert _claim(store) == []
    call = store.get_call(project.id, call_id)
    assert call is not None
    assert (call.status, call.attempts, call.cause) == (
        CallStatus.EXPIRED,
        1,
        LISTED_WHILE_WAITING.cause,
    )
