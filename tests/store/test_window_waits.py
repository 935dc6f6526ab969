"""Calling windows in the store, on SQLite and PostgreSQL (api.md §10): holidays, a project's
default window, the windows in force, and a claimed call handed back to wait for its window."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date

from tests.store.test_store import _done, _queue
from voxcall.domain.calls import CallStatus, Phase
from voxcall.store.store import Store
from voxcall.store.window_waits import HandBack

WORKWEEK = {"days": ["sat", "sun"], "start": "09:00", "end": "20:00", "timezone": "Asia/Tehran"}


def test_holidays_are_kept_once_listed_in_order_and_removed(store: Store) -> None:
    assert store.add_holiday(date(2027, 3, 21), 100) is True
    assert store.add_holiday(date(2027, 3, 20), 200) is True
    assert store.add_holiday(date(2027, 3, 21), 300) is False
    assert store.holidays() == [(date(2027, 3, 20), 200), (date(2027, 3, 21), 100)]
    assert store.remove_holiday(date(2027, 3, 20)) is True
    assert store.remove_holiday(date(2027, 3, 20)) is False
    assert store.holidays() == [(date(2027, 3, 21), 100)]


def test_the_windows_in_force(store: Store) -> None:
    with_window = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    store.create_project("q", rate_limit=10, allowed_regions=["IR"])
    store.update_project(with_window.id, window=json.dumps(WORKWEEK))
    store.add_holiday(date(2027, 3, 21), 1)
    project = store.get_project(with_window.id)
    assert project is not None and json.loads(project.window or "") == WORKWEEK
    in_force = store.windows_in_force()
    assert in_force.holidays == {date(2027, 3, 21)}
    assert {k: json.loads(v) for k, v in in_force.projects.items()} == {with_window.id: WORKWEEK}
    assert in_force.campaigns == {}
    store.update_project(with_window.id, clear_window=True)
    assert store.windows_in_force().projects == {}


def test_a_call_handed_back_waits_as_if_never_claimed(store: Store) -> None:
    """Its first claim handed back: no attempt, not counted, due at the window's opening;
    a retry handed back keeps its first attempt and that attempt's execution date."""
    (first, retried) = _queue(store, 2)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    now = time.time()
    one, two = store.claim_due(dialer, 10, now)
    store.finish_attempt(two.call.id, _done(two.attempt_id, CallStatus.WAITING, now))
    (again,) = store.claim_due(dialer, 10, now + 1)
    opening = now + 1800
    handed = [HandBack(one.attempt_id, one.call.id, opening)]
    handed.append(HandBack(again.attempt_id, again.call.id, opening))
    handed.append(HandBack(uuid.uuid4().hex, first, 0.0))  # no such live attempt: ignored
    assert store.hand_back(handed) == 2
    for call_id, attempts, executed in ((one.call.id, 0, 0), (two.call.id, 1, int(now))):
        call = store.get_call(one.call.project_id, call_id)
        assert call is not None
        assert (call.status, call.phase, call.attempts) == (
            CallStatus.WAITING,
            Phase.QUEUED,
            attempts,
        )
        assert (call.next_attempt_at, call.execution_date) == (opening, executed)
        assert len(store.attempts_of(call_id)) == attempts
    assert store.claim_due(dialer, 10, opening - 1) == []
    assert {a.call.id for a in store.claim_due(dialer, 10, opening)} == {first, retried}
