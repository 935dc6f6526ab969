"""Calling windows in the store, on SQLite and PostgreSQL (api.md §10): holidays, a project's
default window, the windows in force, and a claimed call handed back to wait for its window."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from tests.store.test_store import _done, _new_call, _queue
from voxcall.domain.calls import CallStatus, Phase
from voxcall.domain.voices import Voice
from voxcall.store.store import Store
from voxcall.store.window_waits import HandBack

DAYS = 3 * 86_400
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


def _held(store: Store, **where: Any) -> dict[str, float]:
    """Every queued call a window holds (id -> when it was otherwise due), read in batches
    of two."""
    found: dict[str, float] = {}
    after = None
    while held := store.held_calls(**where, after=after, limit=2):
        found.update((h.call.id, h.held_from) for h in held)
        after = (held[-1].call.project_id, held[-1].call.id)
    return found


def test_a_call_held_by_its_window_is_marked_with_when_it_was_otherwise_due(store: Store) -> None:
    """At its acceptance, at a hand-back (keeping the first mark), at a retry its window
    pushed; a retry it did not push, or a call claimed, is not held."""
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = time.time()
    opening = now + 3600
    held, free, pushed = (
        replace(_new_call(project.id, voice_id, ttl=DAYS), not_before=at)
        for at in (opening, None, None)
    )
    store.insert_calls([held, free, pushed])
    accepted = _held(store, project_id=project.id)
    assert list(accepted) == [held.id] and accepted[held.id] == pytest.approx(now, abs=5)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    first, second = store.claim_due(dialer, 10, now + 1)
    assert _held(store) == {held.id: accepted[held.id]}  # the claimed are dialing
    backoff_end = now + 600
    store.finish_attempt(
        first.call.id,
        replace(
            _done(first.attempt_id, CallStatus.WAITING, opening + 86_400),
            window_held_from=backoff_end,
        ),
    )
    store.finish_attempt(second.call.id, _done(second.attempt_id, CallStatus.WAITING, now + 7200))
    (third,) = store.claim_due(dialer, 10, opening)
    assert third.call.id == held.id
    store.hand_back([HandBack(third.attempt_id, held.id, opening + 86_400)])
    retried = {first.call.id: backoff_end, second.call.id: None}
    assert _held(store) == {
        held.id: accepted[held.id],
        **{call_id: at for call_id, at in retried.items() if at is not None},
    }


def test_held_calls_over_a_time_and_brought_forward_only_earlier(store: Store) -> None:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = time.time()
    soon, later = now + 3600, now + 86_400
    calls = [
        replace(_new_call(project.id, voice_id, ttl=DAYS), not_before=at)
        for at in (soon, later, later)
    ]
    store.insert_calls(calls)
    assert set(_held(store, project_id=project.id)) == {c.id for c in calls}
    assert set(_held(store, between=(soon + 10, soon + 20))) == {c.id for c in calls[1:]}
    assert set(_held(store, between=(now - 20, now - 10))) == set()
    store.bring_forward([(calls[0].id, later), (calls[1].id, soon), (calls[2].id, later)])
    due = [store.get_call(project.id, c.id) for c in calls]
    assert [c.next_attempt_at for c in due if c is not None] == [soon, soon, later]
