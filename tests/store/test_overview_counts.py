"""The overview's counters on SQLite and PostgreSQL: after random calls and random ends by
every path that makes a call final, they equal a recount of the final calls, and the day's
activity read from them and the live calls equals a count of every call."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from voxcall.calls.dialers import new_dialer
from voxcall.domain.calls import AttemptRecord, CallStatus, NewCall
from voxcall.domain.reports import BUCKET
from voxcall.domain.voices import Voice
from voxcall.store import overview_counts
from voxcall.store import schema as t
from voxcall.store.store import Store

ENDS = [CallStatus.NORMAL, CallStatus.NO_ANSWER, CallStatus.USER_BUSY, CallStatus.ERROR]
Tally = Counter[tuple[str, int, str, str]]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url, create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=1000, cps=10**6))
    yield store
    store.close()


def _insert(store: Store, project_id: str, voice_id: str, rng: random.Random, now: int) -> None:
    dates = [now - rng.randrange(0, 6 * 3600) for _ in range(rng.randrange(1, 12))]
    store.insert_calls(
        [
            NewCall(
                id=uuid.uuid4().hex,
                project_id=project_id,
                campaign_id=None,
                voice_id=voice_id,
                national_number=f"0912{rng.randrange(10**7):07d}",
                e164="+989120000000",
                dialer_id=None,
                retry_count=2,
                retry_interval=None,
                request_date=when,
                # some expire when the test's clock passes them
                expires_at=when + rng.choice([60, 10**6]),
                reserved_milli=rng.randrange(0, 3000),
            )
            for when in dates
        ]
    )


def _end_attempts(store: Store, rng: random.Random, now: float) -> None:
    """Claim some due calls and end each as a random final status or a retry."""
    (dialer,) = store.list_dialers()
    for claimed in store.claim_due(dialer, rng.randrange(0, 8), now):
        status = rng.choice([*ENDS, CallStatus.WAITING])
        answered = status is CallStatus.NORMAL
        bill_sec = rng.randrange(1, 60) if answered else 0
        store.finish_attempt(
            claimed.call.id,
            AttemptRecord(
                attempt_id=claimed.attempt_id,
                result="ANSWERED" if answered else "NO_ANSWER",
                answered_at=claimed.started_at + 1 if answered else None,
                ended_at=claimed.started_at + 1 + bill_sec,
                bill_sec=bill_sec,
                billed_sec=bill_sec,
                cause="",
                call_status=status,
                next_attempt_at=now if status is CallStatus.WAITING else None,
                price_milli=rng.randrange(0, 2500) if answered else 0,
            ),
        )


def _recount(store: Store, *, final_only: bool) -> Tally:
    """The counters as the calls say they should be, summed here one call at a time."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.calls)).all()
    sums: Tally = Counter()
    for r in rows:
        if final_only and r.phase != "final":
            continue
        key = (r.project_id, r.request_date // BUCKET * BUCKET, r.status)
        sums[(*key, "calls")] += 1
        sums[(*key, "attempted")] += r.attempts > 0
        sums[(*key, "billed_sec")] += r.bill_sec if r.status == "NORMAL" else 0
        sums[(*key, "spend_milli")] += r.price_milli
    return +sums  # without the zeros


def _counters(store: Store) -> Tally:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.overview_counts)).all()
    sums: Tally = Counter()
    for r in rows:
        for name in overview_counts.SUMS:
            sums[(r.project_id, r.bucket, r.status, name)] += getattr(r, name)
    return +sums


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counters_equal_a_recount_after_random_calls_and_ends(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    now = int(time.time())
    projects = []
    for name in ("a", "b"):
        project = store.create_project(name, rate_limit=10, allowed_regions=["IR"])
        store.credit(project.id, 10**7, kind="topup", note="")
        voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 1.0, 0)
        store.add_voice(voice)
        projects.append((project.id, voice.id))
    calls: list[str] = []
    for step in range(40):
        action = rng.randrange(4)
        if action == 0:
            project_id, voice_id = rng.choice(projects)
            _insert(store, project_id, voice_id, rng, now)
        elif action == 1:
            _end_attempts(store, rng, now + step)
        elif action == 2 and calls:
            project_id, _ = rng.choice(projects)
            store.cancel_call(project_id, rng.choice(calls))
        else:
            store.expire_due(now + step * 60)
        with store.engine.connect() as conn:
            calls = list(conn.scalars(select(t.calls.c.id)))
    store.recover_interrupted()  # the live attempts' calls end UNKNOWN

    assert _counters(store) == _recount(store, final_only=True)
    with store.engine.begin() as conn:
        overview_counts.recount(conn)
    assert _counters(store) == _recount(store, final_only=True)


def test_activity_counts_final_and_live_calls_in_the_window(store: Store) -> None:
    rng = random.Random(4)
    now = int(time.time())
    project = store.create_project("a", rate_limit=10, allowed_regions=["IR"])
    store.credit(project.id, 10**7, kind="topup", note="")
    voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 1.0, 0)
    store.add_voice(voice)
    for step in range(10):
        _insert(store, project.id, voice.id, rng, now)
        _end_attempts(store, rng, now + step)
    start = (now // BUCKET - 20) * BUCKET  # a window that leaves out the oldest calls
    buckets = 18
    activity = store.activity(project.id, start, buckets)

    found: Tally = Counter()
    for a in activity:
        key = (project.id, start + a.bucket * BUCKET, a.status.name)
        found[(*key, "calls")] += a.calls
        found[(*key, "attempted")] += a.attempted
        found[(*key, "billed_sec")] += a.billed_seconds
        found[(*key, "spend_milli")] += a.spend_milli
    expected = Counter(
        {
            key: n
            for key, n in _recount(store, final_only=False).items()
            if start <= key[1] < start + buckets * BUCKET
        }
    )
    assert +found == expected
    assert {a.status for a in activity} > {CallStatus.WAITING}  # live and final calls both
