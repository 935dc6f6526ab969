"""The operator's reads on SQLite and PostgreSQL: a dialer's channels in use, its attempts
of the last hour and last error; the call queue by class; the workers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.store.test_reports import _calls
from voxcall.calls.dialers import new_dialer
from voxcall.domain.calls import AttemptRecord, CallClass, CallStatus, NewCall
from voxcall.domain.operations import DialerActivity, QueueDepth
from voxcall.domain.voices import Voice
from voxcall.store.store import Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url, create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=100, cps=1000))
    store.add_dialer(new_dialer("d2", "sandbox", "D2", {}))
    yield store
    store.close()


def _end(store: Store, call_id: str, attempt_id: str, started: float, result: str) -> None:
    answered = result == "ANSWERED"
    store.finish_attempt(
        call_id,
        AttemptRecord(
            attempt_id=attempt_id,
            result=result,
            answered_at=started + 2 if answered else None,
            ended_at=started + 5,
            bill_sec=3 if answered else 0,
            cause="voice played" if answered else "503 Service Unavailable",
            call_status=CallStatus.NORMAL if answered else CallStatus.ERROR,
            next_attempt_at=None,
        ),
    )


def test_dialer_activity_and_the_queue(store: Store) -> None:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    _calls(store, project, [int(time.time()) - 60] * 3)
    now = time.time() + 1  # the calls are due
    assert store.queue_depth() == QueueDepth(single=3)

    d1 = store.get_dialer("d1")
    assert d1 is not None
    answered, failed, live = store.claim_due(d1, 3, now)
    _end(store, answered.call.id, answered.attempt_id, answered.started_at, "ANSWERED")
    _end(store, failed.call.id, failed.attempt_id, failed.started_at, "ERROR")
    activity = store.dialer_activity(["d1", "d2"], now + 30)
    assert activity["d2"] == DialerActivity()
    seen = activity["d1"]
    assert (seen.busy, seen.attempts, seen.answered, seen.started_last_minute) == (1, 3, 1, 3)
    assert seen.answer_rate == pytest.approx(1 / 3) and seen.calls_per_second == 3 / 60
    assert seen.last_error == "503 Service Unavailable"
    assert seen.last_error_at == pytest.approx(failed.started_at + 5)
    later = store.dialer_activity(["d1"], now + 1800)["d1"]
    assert (later.busy, later.attempts, later.started_last_minute) == (1, 3, 0)
    assert later.last_error == "503 Service Unavailable"  # within the hour
    past = store.dialer_activity(["d1"], now + 2 * 3600)["d1"]
    assert (past.busy, past.attempts, past.last_error) == (1, 0, None)
    assert store.queue_depth() == QueueDepth(dialing=1)
    assert [c.id for c in store.calls_in_progress(project.id)] == [live.call.id]


@pytest.mark.parametrize("call_class", list(CallClass))
def test_the_queue_by_class(store: Store, call_class: CallClass) -> None:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = Voice(uuid.uuid4().hex, project.id, "v", "wav", 1, 1.0, 0)
    store.add_voice(voice)
    now = int(time.time())
    store.insert_calls(
        [
            NewCall(
                id=uuid.uuid4().hex, project_id=project.id, campaign_id=None,
                voice_id=voice.id, national_number=f"0912000000{i}", e164=f"+98912000000{i}",
                dialer_id=None, retry_count=0, retry_interval=None, request_date=now,
                expires_at=now + 3600, reserved_milli=0, call_class=call_class,
            )
            for i in range(2)
        ]
    )  # fmt: skip
    depth = store.queue_depth()
    field = {
        CallClass.ONE_TIME_CODE: "one_time_code",
        CallClass.SINGLE: "single",
        CallClass.BATCH: "batch",
        CallClass.CAMPAIGN: "campaign",
    }[call_class]
    assert depth == QueueDepth(**{field: 2})


def test_workers_and_the_database(store: Store) -> None:
    assert store.workers() == []
    store.register_worker("w1", host="h", pid=42, now=1000.0)
    store.heartbeat("w1", 1010.0)
    (worker,) = store.workers()
    assert (worker.id, worker.host, worker.pid, worker.heartbeat_at) == ("w1", "h", 42, 1010.0)
    assert store.database_kind() in ("sqlite", "postgresql")
