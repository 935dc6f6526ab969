"""The claim's choice (api.md §10), on SQLite and PostgreSQL, as properties: classes in strict
order; within a class, projects round-robin; within a project, its campaigns round-robin; and
over successive claims no project is served twice before another that waits."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from voxcall.calls.dialers import new_dialer
from voxcall.domain.calls import AttemptRecord, CallClass, CallStatus, NewCall, project_lane
from voxcall.domain.voices import Voice
from voxcall.store import schema
from voxcall.store.store import Store

# A waiting call: (class, project index, campaign index); campaigns only in CallClass.CAMPAIGN.
Waiting = tuple[CallClass, int, int]

_waiting = st.lists(
    st.tuples(st.sampled_from(CallClass), st.integers(0, 3), st.integers(0, 2)).map(
        lambda w: (w[0], w[1], w[2] if w[0] is CallClass.CAMPAIGN else 0)
    ),
    min_size=1,
    max_size=40,
)
_names = itertools.count()


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for the module's examples on SQLite; see `store` for PostgreSQL."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('claim') / 'db.sqlite'}", create=True)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "sqlite":
        yield request.getfixturevalue("module_store")
        return
    store = Store.open(request.getfixturevalue("postgres_url"), create=True)
    yield store
    store.close()


def _queue(store: Store, waiting: list[Waiting]) -> tuple[str, dict[str, Waiting]]:
    """Queue the calls on a dialer of their own (each example is apart from the others):
    its id, and each call's (class, project, campaign)."""
    dialer = f"d{next(_names)}"
    store.add_dialer(new_dialer(dialer, "sandbox", dialer, {}, channels=1000, cps=10**6))
    projects = [
        store.create_project(f"{dialer}-p{i}", rate_limit=10, allowed_regions=["IR"])
        for i in range(4)
    ]
    voices = []
    for p in projects:
        voices.append(uuid.uuid4().hex)
        store.add_voice(Voice(voices[-1], p.id, "v", "wav", 1, 1.0, 0))
    campaigns = [uuid.uuid4().hex for _ in range(3)]
    now = int(time.time())
    calls = [
        NewCall(
            id=uuid.uuid4().hex,
            project_id=projects[project].id,
            campaign_id=campaigns[campaign] if call_class >= CallClass.BATCH else None,
            voice_id=voices[project],
            national_number="09121234567",
            e164="+989121234567",
            dialer_id=dialer,
            retry_count=0,
            retry_interval=None,
            request_date=now,
            expires_at=now + 3600,
            call_class=call_class,
        )
        for call_class, project, campaign in waiting
    ]
    store.insert_calls(calls)
    return dialer, {c.id: w for c, w in zip(calls, waiting, strict=True)}


def _claim(store: Store, dialer_id: str, limit: int) -> list[str]:
    dialer = store.get_dialer(dialer_id)
    assert dialer is not None
    return [a.call.id for a in store.claim_due(dialer, limit, time.time())]


def _spread_within_one(taken: Counter[int], left: Counter[int]) -> None:
    """Round-robin: a group that still waits got no fewer than any other, less one."""
    for waiting in left:
        for other, count in taken.items():
            assert count <= taken[waiting] + 1, (other, waiting, taken, left)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(waiting=_waiting, limit=st.integers(1, 12))
def test_one_claim_takes_classes_in_order_and_shares_each_round_robin(
    store: Store, waiting: list[Waiting], limit: int
) -> None:
    dialer, calls = _queue(store, waiting)
    taken = [calls[c] for c in _claim(store, dialer, limit)]
    assert len(taken) == min(limit, len(waiting))
    left = list((Counter(waiting) - Counter(taken)).elements())
    if not left:
        return
    lowest_left = min(w[0] for w in left)
    assert all(w[0] <= lowest_left for w in taken)  # strict class order
    shared = [w for w in taken if w[0] == lowest_left]
    waiting_in_class = [w for w in left if w[0] == lowest_left]
    _spread_within_one(Counter(w[1] for w in shared), Counter(w[1] for w in waiting_in_class))
    for project in {w[1] for w in waiting_in_class}:
        _spread_within_one(
            Counter(w[2] for w in shared if w[1] == project),
            Counter(w[2] for w in waiting_in_class if w[1] == project),
        )


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    sizes=st.lists(st.integers(1, 8), min_size=2, max_size=4),
    limits=st.lists(st.integers(1, 3), min_size=1, max_size=8),
)
def test_successive_claims_serve_the_projects_in_turn(
    store: Store, sizes: list[int], limits: list[int]
) -> None:
    """Projects of one class with a call each claimed at a time never get two turns before
    another waiting one gets its next: over the claims so far their counts differ by one."""
    waiting = [
        (CallClass.CAMPAIGN, project, 0) for project, n in enumerate(sizes) for _ in range(n)
    ]
    dialer, calls = _queue(store, waiting)
    taken: Counter[int] = Counter()
    for limit in limits:
        taken.update(calls[c][1] for c in _claim(store, dialer, limit))
        left = Counter(w[1] for w in waiting) - taken
        _spread_within_one(taken, left)


def _keys(store: Store, call_id: str) -> tuple[str, set[str]]:
    """The call's project, and its lane and its project's share of its class."""
    calls = schema.calls.c
    with store.engine.connect() as conn:
        row = conn.execute(
            select(calls.lane, calls.call_class, calls.project_id).where(calls.id == call_id)
        ).one()
    return row.project_id, {row.lane, project_lane(CallClass(row.call_class), row.project_id)}


def _numbered(store: Store, keys: set[str]) -> set[str]:
    """Which of `keys` call_lanes numbers."""
    lanes = schema.call_lanes.c.lane
    with store.engine.connect() as conn:
        return set(conn.scalars(select(lanes).where(lanes.in_(keys))))


def test_a_turn_is_kept_while_its_lane_has_a_waiting_call(store: Store) -> None:
    """Queued or dialing, a call keeps the turns of its lane and of its project's share (a
    retry comes back to them); the transaction that makes the last one final forgets them:
    call_lanes holds only lanes that wait."""
    dialer_id, calls = _queue(
        store,
        [(CallClass.SINGLE, 1, 0), (CallClass.CAMPAIGN, 0, 0), (CallClass.CAMPAIGN, 0, 1)],
    )
    dialer = store.get_dialer(dialer_id)
    assert dialer is not None
    claimed = {a.call.id: a for a in store.claim_due(dialer, 2, time.time())}
    single = next(c for c, w in calls.items() if w[0] is CallClass.SINGLE)
    (retried,) = set(claimed) - {single}
    (waiting,) = set(calls) - set(claimed)
    single_keys, retried_keys = _keys(store, single)[1], _keys(store, retried)[1]
    project, waiting_keys = _keys(store, waiting)
    assert _numbered(store, single_keys | retried_keys) == single_keys | retried_keys

    now = time.time()
    busy = AttemptRecord(
        claimed[retried].attempt_id, "BUSY", None, now, 0, "", CallStatus.WAITING, now
    )
    answered = AttemptRecord(
        claimed[single].attempt_id, "ANSWERED", now, now, 1, "", CallStatus.NORMAL, None
    )
    assert store.finish_attempts([(retried, busy), (single, answered)]) == [True, True]
    assert _numbered(store, single_keys) == set()
    assert _numbered(store, retried_keys) == retried_keys

    assert store.cancel_call(project, retried) is not None
    shared = retried_keys & waiting_keys  # the project's share: its other campaign waits
    assert _numbered(store, retried_keys) == shared
    assert store.cancel_call(project, waiting) is not None
    assert _numbered(store, retried_keys | waiting_keys) == set()
