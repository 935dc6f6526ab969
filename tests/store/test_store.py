"""The store's state machine: claims, channel limits, outcomes, expiry, cancel, recovery."""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.store.windows import most_in_any_window
from voxcall.calls.dialers import new_dialer
from voxcall.domain.calls import AttemptRecord, CallStatus, NewCall, Phase
from voxcall.domain.voices import Voice
from voxcall.store import schema
from voxcall.store.database import Conflict, StoreUnavailable
from voxcall.store.projects import InsufficientFunds
from voxcall.store.settings_cache import StaleSettings
from voxcall.store.store import Store
from voxcall.store.voices import StorageQuotaExceeded


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url, create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=2))
    yield store
    store.close()


def _queue(store: Store, n: int, *, ttl: int = 3600, dialer_id: str | None = None) -> list[str]:
    project = store.project_by_name("p") or store.create_project(
        "p", rate_limit=10, allowed_regions=["IR"]
    )
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    calls = store.insert_calls(
        [_new_call(project.id, voice_id, ttl=ttl, dialer_id=dialer_id) for _ in range(n)]
    )
    return [c.id for c in calls]


def _new_call(
    project_id: str, voice_id: str, *, ttl: int = 3600, dialer_id: str | None = None
) -> NewCall:
    now = int(time.time())
    return NewCall(
        id=uuid.uuid4().hex,
        project_id=project_id,
        campaign_id=None,
        voice_id=voice_id,
        national_number="09121234567",
        e164="+989121234567",
        dialer_id=dialer_id,
        retry_count=1,
        retry_interval=None,
        request_date=now,
        expires_at=now + ttl,
    )


def _done(attempt_id: str, status: CallStatus, retry_at: float | None = None) -> AttemptRecord:
    return AttemptRecord(
        attempt_id=attempt_id,
        result="BUSY" if status is CallStatus.WAITING else "ANSWERED",
        answered_at=None,
        ended_at=time.time(),
        bill_sec=3,
        cause="test",
        call_status=status,
        next_attempt_at=retry_at,
        billed_sec=3 if status is CallStatus.NORMAL else 0,  # as its settlement bills it
    )


def test_claim_respects_the_channel_limit(store: Store) -> None:
    _queue(store, 5)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    first = store.claim_due(dialer, 10, time.time())
    assert len(first) == 2  # two channels
    assert store.claim_due(dialer, 10, time.time()) == []
    assert store.busy_channels() == {"d1": 2}
    assert store.finish_attempt(first[0].call.id, _done(first[0].attempt_id, CallStatus.NORMAL))
    assert len(store.claim_due(dialer, 10, time.time())) == 1


def test_a_claimed_attempt_is_recorded_before_it_is_dialled(store: Store) -> None:
    (call_id,) = _queue(store, 1)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 1, time.time())
    assert claim.number == 1
    project = store.project_by_name("p")
    assert project is not None
    call = store.get_call(project.id, call_id)
    assert call is not None
    assert (call.phase, call.status, call.attempts) == (Phase.DIALING, CallStatus.WAITING, 1)
    assert call.execution_date > 0
    (attempt,) = store.attempts_of(call_id)
    assert attempt["state"] == "dialing"


def test_retry_requeues_then_final_is_final(store: Store) -> None:
    (call_id,) = _queue(store, 1)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 1, time.time())
    retry_at = time.time() + 1000
    store.finish_attempt(call_id, _done(claim.attempt_id, CallStatus.WAITING, retry_at))
    assert store.claim_due(dialer, 1, time.time()) == []  # not due yet
    (again,) = store.claim_due(dialer, 1, retry_at)
    assert again.number == 2
    store.finish_attempt(call_id, _done(again.attempt_id, CallStatus.NORMAL))
    # a duplicated report changes nothing
    assert not store.finish_attempt(call_id, _done(again.attempt_id, CallStatus.ERROR))
    project = store.project_by_name("p")
    assert project is not None
    call = store.get_call(project.id, call_id)
    assert call is not None
    assert (call.status, call.phase, call.attempts, call.bill_sec) == (
        CallStatus.NORMAL,
        Phase.FINAL,
        2,
        3,
    )


def test_expiry_touches_only_queued_calls(store: Store) -> None:
    live, queued = _queue(store, 2, ttl=60)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    store.claim_due(dialer, 1, time.time())
    assert store.expire_due(time.time() + 61) == 1
    project = store.project_by_name("p")
    assert project is not None
    calls = [store.get_call(project.id, c) for c in (live, queued)]
    assert sorted(c.status.name for c in calls if c is not None) == ["EXPIRED", "WAITING"]


def test_cancel_only_before_the_attempt_starts(store: Store) -> None:
    first, second = _queue(store, 2)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 1, time.time())
    project = store.project_by_name("p")
    assert project is not None
    live = store.cancel_call(project.id, claim.call.id)
    assert live is not None and live.status is CallStatus.WAITING
    other = second if claim.call.id == first else first
    cancelled = store.cancel_call(project.id, other)
    assert cancelled is not None and cancelled.status is CallStatus.EXPIRED
    assert store.cancel_call("another-project", claim.call.id) is None


def test_recovery_makes_live_attempts_unknown_and_keeps_queued(store: Store) -> None:
    _queue(store, 3)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    claimed = store.claim_due(dialer, 2, time.time())
    assert store.recover_interrupted() == 2
    assert store.busy_channels() == {}
    counts = store.count_calls()
    assert counts == {"UNKNOWN": 2, "WAITING": 1}
    for claim in claimed:
        (attempt,) = store.attempts_of(claim.call.id)
        assert attempt["state"] == "unknown"
    # the unknown calls are never claimed again
    (last,) = store.claim_due(dialer, 10, time.time())
    assert last.call.id not in {c.call.id for c in claimed}


def test_pinned_calls_wait_for_their_dialer(store: Store) -> None:
    store.add_dialer(new_dialer("d2", "sandbox", "D2", {}, channels=5))
    _queue(store, 2, dialer_id="d2")
    d1 = store.get_dialer("d1")
    d2 = store.get_dialer("d2")
    assert d1 is not None and d2 is not None
    assert store.claim_due(d1, 5, time.time()) == []
    assert len(store.claim_due(d2, 5, time.time())) == 2


def test_unique_names(store: Store) -> None:
    store.create_project("dup", rate_limit=1, allowed_regions=["IR"])
    with pytest.raises(Conflict):
        store.create_project("dup", rate_limit=1, allowed_regions=["IR"])
    with pytest.raises(Conflict):
        store.add_dialer(new_dialer("d1", "sandbox", "again", {}))


def test_unreachable_database_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable):
        Store.open(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'db.sqlite'}", create=True)


def test_a_price_never_exceeds_the_reservation(store: Store) -> None:
    (call_id,) = _queue(store, 1)
    project = store.project_by_name("p")
    assert project is not None
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 1, time.time())
    record = _done(claim.attempt_id, CallStatus.NORMAL)
    store.finish_attempt(call_id, dataclasses.replace(record, price_milli=5_000))
    call = store.get_call(project.id, call_id)
    assert call is not None and call.price_milli == 0  # nothing was reserved: nothing taken
    assert store.statement(project.id) == []


def test_reservations_and_debits(store: Store) -> None:
    project = store.create_project("m", rate_limit=1, allowed_regions=["IR"])
    store.credit(project.id, 1_000_000, kind="topup", note="opening")
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = int(time.time())

    def new_call(reserve: int) -> NewCall:
        return NewCall(
            uuid.uuid4().hex, project.id, None, voice_id, "09121234567", "+989121234567",
            None, 0, None, now, now + 60, reserved_milli=reserve,
        )  # fmt: skip

    (call,) = store.insert_calls([new_call(600_000)])
    with pytest.raises(InsufficientFunds):
        store.insert_calls([new_call(300_000), new_call(200_000)])  # 500 > 400 available
    assert store.count_calls(project_id=project.id) == {"WAITING": 1}
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 1, time.time())
    store.finish_attempt(
        call.id,
        dataclasses.replace(_done(claim.attempt_id, CallStatus.NORMAL), price_milli=300_000),
    )
    after = store.get_project(project.id)
    assert after is not None
    assert (after.balance_milli, after.reserved_milli) == (700_000, 0)
    debit, topup = store.statement(project.id)
    assert (debit.kind, debit.amount_milli, debit.balance_after_milli, debit.call_id) == (
        "debit",
        -300_000,
        700_000,
        call.id,
    )
    assert (topup.kind, topup.amount_milli) == ("topup", 1_000_000)
    with pytest.raises(InsufficientFunds):
        store.credit(project.id, -800_000, kind="adjustment", note="too much")


def test_a_dead_workers_attempts_become_unknown(store: Store) -> None:
    _queue(store, 3)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    now = time.time()
    store.register_worker("alive", host="h", pid=1, now=now)
    store.register_worker("dead", host="h", pid=2, now=now - 100)
    (mine,) = store.claim_due(dialer, 1, now, worker_id="alive")
    (theirs,) = store.claim_due(dialer, 1, now, worker_id="dead")
    assert store.reap_dead_workers(now, lease=30) == 1
    assert [w["id"] for w in store.live_workers()] == ["alive"]
    project = store.project_by_name("p")
    assert project is not None
    lost = store.get_call(project.id, theirs.call.id)
    kept = store.get_call(project.id, mine.call.id)
    assert lost is not None and kept is not None
    assert (lost.status, lost.phase) == (CallStatus.UNKNOWN, Phase.FINAL)
    assert (kept.status, kept.phase) == (CallStatus.WAITING, Phase.DIALING)
    assert store.busy_channels() == {"d1": 1}  # the dead worker's channel is free again
    # the dead worker's late report changes nothing
    assert not store.finish_attempt(lost.id, _done(theirs.attempt_id, CallStatus.NORMAL))
    assert not store.heartbeat("dead", now)
    assert store.heartbeat("alive", now)


def test_concurrent_claims_never_exceed_the_channels(store: Store) -> None:
    _queue(store, 40)
    store.add_dialer(new_dialer("wide", "sandbox", "W", {}, channels=7, cps=1000))
    dialer = store.get_dialer("wide")
    assert dialer is not None
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda _: store.claim_due(dialer, 3, time.time()), range(16)))
    claimed = [c.call.id for batch in claims for c in batch]
    assert len(claimed) == 7 == len(set(claimed))
    assert store.busy_channels() == {"wide": 7}


def test_calls_per_second_hold_in_every_window_from_the_first(store: Store) -> None:
    """No burst on top of the rate: the first second starts `cps` calls, not 2 x cps."""
    _queue(store, 20)
    store.add_dialer(new_dialer("slow", "sandbox", "S", {}, channels=50, cps=4))
    dialer = store.get_dialer("slow")
    assert dialer is not None
    now = time.time()
    assert len(store.claim_due(dialer, 50, now)) == 4
    assert store.claim_due(dialer, 50, now + 0.5) == []
    assert store.claim_due(dialer, 50, now + 0.999) == []
    assert len(store.claim_due(dialer, 50, now + 1.0)) == 4  # [now, now + 1) held 4


@pytest.mark.parametrize(("cps", "window", "per_window"), [(4, 1, 4), (2.5, 1, 2), (0.5, 2, 1)])
def test_a_fractional_calls_per_second_rounds_down(
    store: Store, cps: float, window: float, per_window: int
) -> None:
    _queue(store, 10)
    store.add_dialer(new_dialer("f", "sandbox", "F", {}, channels=50, cps=cps))
    dialer = store.get_dialer("f")
    assert dialer is not None
    now = time.time()
    assert len(store.claim_due(dialer, 50, now)) == per_window
    assert store.claim_due(dialer, 50, now + window - 0.01) == []
    assert len(store.claim_due(dialer, 50, now + window)) == per_window


def test_calls_per_second_hold_across_workers_sharing_the_database(
    store: Store, store_url: str
) -> None:
    """Two workers (two stores, as two processes would have) claim at once, each with its own
    slightly skewed clock: every one-second window of the recorded start times holds at most
    `cps` attempts."""
    _queue(store, 200)
    store.add_dialer(new_dialer("shared", "sandbox", "S", {}, channels=500, cps=7))
    other = Store.open(store_url)
    start = time.time()
    in_step = threading.Barrier(4)  # every round, both stores claim at once

    def worker(index: int) -> None:
        mine = (store, other)[index % 2]
        dialer = mine.get_dialer("shared")
        assert dialer is not None
        skew = random.Random(index)
        for step in range(40):  # 3 s of claim rounds every 75 ms
            in_step.wait(timeout=30)
            mine.claim_due(dialer, 5, start + step * 0.075 + skew.uniform(-0.03, 0.03))

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(worker, range(4)))
    finally:
        other.close()
    with store._read() as conn:
        starts = conn.scalars(
            select(schema.attempts.c.started_at).where(schema.attempts.c.dialer_id == "shared")
        ).all()
    # the bucket this replaced let 13 through: a full second's burst on top of the rate
    assert most_in_any_window(starts) <= 7
    assert len(starts) >= 3 * 7 - 7  # the budget was used, not starved


def test_calls_checked_against_old_settings_are_refused(store: Store) -> None:
    """The contract of the settings cache's version: a write names the version its settings
    were read at, and any change since (here a dialer disabled) refuses it."""
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    store.list_dialers(enabled_only=True)  # reads (and caches) at the current version
    version = store.settings.version
    call = _new_call(project.id, voice_id)
    store.insert_calls([call], settings_version=version)
    assert store.set_dialer_enabled("d1", False)
    with pytest.raises(StaleSettings):
        store.insert_calls(
            [dataclasses.replace(call, id=uuid.uuid4().hex)], settings_version=version
        )
    assert store.count_calls() == {"WAITING": 1}
    store.list_dialers(enabled_only=True)
    assert store.settings.version == version + 1
    store.insert_calls(
        [dataclasses.replace(call, id=uuid.uuid4().hex)], settings_version=version + 1
    )
    assert store.count_calls() == {"WAITING": 2}


def _attempt(attempt_id: str, result: str, status: CallStatus, *, bill_sec: int) -> AttemptRecord:
    ended = time.time()
    return AttemptRecord(
        attempt_id=attempt_id,
        result=result,
        answered_at=ended - bill_sec,
        ended_at=ended,
        bill_sec=bill_sec,
        cause="test",
        call_status=status,
        next_attempt_at=ended + 1000 if status is CallStatus.WAITING else None,
    )


def test_only_a_normal_call_reports_bill_seconds(store: Store) -> None:
    """Answered seconds of an attempt that did not make the call NORMAL stay in the attempt's
    row; the call keeps the seconds its settlement billed (none), and so does its webhook
    event, rendered from the call (the callee was not billed a message)."""
    _queue(store, 2)
    project = store.project_by_name("p")
    assert project is not None
    store.set_webhook(project.id, "http://127.0.0.1:9/hook", "whsec_x")
    dialer = store.get_dialer("d1")
    assert dialer is not None
    claims = {c.call.id: c for c in store.claim_due(dialer, 2, time.time())}
    errored, retried = sorted(claims)
    # answered, then the attempt failed (e.g. an unusable SDP answer): ERROR, final
    store.finish_attempt(
        errored, _attempt(claims[errored].attempt_id, "ERROR", CallStatus.ERROR, bill_sec=7)
    )
    # a 200 that crossed our CANCEL: NO_ANSWER, to be retried
    store.finish_attempt(
        retried,
        _attempt(claims[retried].attempt_id, "NO_ANSWER", CallStatus.WAITING, bill_sec=2),
    )
    store.cancel_call(project.id, retried)
    calls = {c: store.get_call(project.id, c) for c in claims}
    assert {c: (x.status.name, x.bill_sec) for c, x in calls.items() if x} == {
        errored: ("ERROR", 0),
        retried: ("EXPIRED", 0),
    }
    assert [a["bill_sec"] for a in store.attempts_of(errored)] == [7]
    assert [a["bill_sec"] for a in store.attempts_of(retried)] == [2]
    assert sorted(e["call_id"] for e in store.webhook_events(project.id)) == sorted(claims)


def test_a_write_past_its_deadline_is_rolled_back_not_committed(store: Store) -> None:
    """The insert of the calls takes longer than the store's timeout (the clock jumps while it
    runs): the transaction is rolled back and StoreUnavailable raised, so the request can
    answer 503 with nothing accepted; a 200 is only ever given for a commit begun in time."""
    _queue(store, 1)  # a project and a voice; the timed-out call comes on top
    project = store.project_by_name("p")
    assert project is not None
    voice = store.list_voices(project.id)[0]
    now = [0.0]
    store.clock = lambda: now[0]

    def slow_insert(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CALLS"):
            now[0] += store.timeout + 1

    event.listen(store.engine, "before_cursor_execute", slow_insert)
    try:
        with pytest.raises(StoreUnavailable, match=r"the database stayed busy for 5 s"):
            store.insert_calls([_new_call(project.id, voice.id)])
    finally:
        event.remove(store.engine, "before_cursor_execute", slow_insert)
    assert store.count_calls() == {"WAITING": 1}  # only the first
    reserved = store.get_project(project.id)
    assert reserved is not None and reserved.reserved_milli == 0
    store.insert_calls([_new_call(project.id, voice.id)])  # in time: kept
    assert store.count_calls() == {"WAITING": 2}


def test_storage_quota_holds_for_adds_at_once(store: Store) -> None:
    """Eight voices of 3,000 bytes at once into a 10,000-byte quota: three fit, whatever the
    interleaving (PostgreSQL: the project row is locked before the sum is read)."""
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    store.update_project(project.id, storage_quota=10_000)
    start = threading.Barrier(8)

    def add(_: int) -> bool:
        voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 1.0, 0, stored_bytes=3_000)
        start.wait()
        try:
            store.add_voice(voice)
        except StorageQuotaExceeded as exc:
            assert (exc.adding, exc.quota) == (3_000, 10_000)
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        added = list(pool.map(add, range(8)))
    assert added.count(True) == 3
    assert store.storage_used(project.id) == 9_000


def test_a_voice_stored_with_its_calls(store: Store) -> None:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    code = Voice(uuid.uuid4().hex, project.id, "code", "wav", 1, 1.0, 0, kind="otp")
    call = dataclasses.replace(_new_call(project.id, code.id), reserved_milli=1000)
    with pytest.raises(InsufficientFunds):
        store.insert_calls([call], new_voice=code)
    assert store.get_voice(project.id, code.id) is None  # refused: no voice either

    (placed,) = store.insert_calls([dataclasses.replace(call, reserved_milli=0)], new_voice=code)
    assert store.get_voice(project.id, code.id) is not None
    assert store.retire_unused_voices(kind="otp") == []  # its call is not final
    assert store.cancel_call(project.id, placed.id) is not None
    assert store.retire_unused_voices(kind="otp") == [(project.id, code.id)]
    assert store.get_voice(project.id, code.id) is None
    assert store.retire_unused_voices(kind="otp") == []


def test_a_timeout_without_bound_is_accepted(store_url: str) -> None:
    """VOXCALL_DB_TIMEOUT=inf (and db upgrade): the drivers' timeouts take 32-bit ms."""
    store = Store.open(store_url, create=True, timeout=math.inf)
    try:
        store.create_project("p", rate_limit=1, allowed_regions=["IR"])
        assert [p.name for p in store.list_projects()] == ["p"]
    finally:
        store.close()
