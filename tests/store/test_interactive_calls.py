"""api.md §11 in the store, on SQLite and PostgreSQL: a call keeps its gather settings and
detection mode, and takes the digits and who answered from its last answered attempt, also
so into its webhook."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.store.test_store import _done, _new_call
from voxcall.calls.dialers import new_dialer
from voxcall.domain.calls import Call, CallStatus
from voxcall.domain.interaction import AnsweredBy, Gather, MachineDetection
from voxcall.domain.voices import Voice
from voxcall.store.store import Store
from voxcall.webhooks.event import event_body


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url, create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=2))
    yield store
    store.close()


def queue(store: Store, **fields: object) -> Call:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    store.set_webhook(project.id, "http://127.0.0.1:9/hook", "whsec_x")
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    new = dataclasses.replace(_new_call(project.id, voice_id), **fields)  # type: ignore[arg-type]
    (call,) = store.insert_calls([new])
    return call


def attempt(store: Store, call: Call, **found: object) -> Call:
    """Claim the call's next attempt and end it with `found` (digits, answered_by, ...)."""
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 1, time.time())
    done = dataclasses.replace(_done(claim.attempt_id, CallStatus.NORMAL), **found)  # type: ignore[arg-type]
    assert store.finish_attempt(call.id, done)
    stored = store.get_call(call.project_id, call.id)
    assert stored is not None
    return stored


def test_the_request_is_kept(store: Store) -> None:
    gather = Gather(4, 10.0, "#", "*")
    call = queue(store, gather=gather, machine_detection=MachineDetection.HUMANS_ONLY)
    stored = store.get_call(call.project_id, call.id)
    assert stored is not None
    assert (stored.gather, stored.machine_detection) == (gather, MachineDetection.HUMANS_ONLY)
    assert (stored.digits, stored.answered_by) == ("", None)
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 1, time.time())
    assert claim.call.gather == gather  # what the scheduler dials with
    assert claim.call.machine_detection is MachineDetection.HUMANS_ONLY


def test_a_call_without_them(store: Store) -> None:
    call = queue(store)
    assert (call.gather, call.machine_detection) == (None, MachineDetection.OFF)


def test_an_answered_attempt_leaves_its_digits_and_who_answered(store: Store) -> None:
    call = queue(store, gather=Gather(2), machine_detection=MachineDetection.DETECT)
    final = attempt(store, call, answered_at=time.time(), digits="7#", answered_by=AnsweredBy.HUMAN)
    assert (final.status, final.digits, final.answered_by) == (
        CallStatus.NORMAL,
        "7#",
        AnsweredBy.HUMAN,
    )
    # The webhook's body is rendered from the final call at each delivery.
    (event,) = store.webhook_events(call.project_id)
    assert event["call_id"] == call.id
    assert event_body(final).endswith(b',"digits":"7#","answeredBy":"human"}')


def test_the_last_answered_attempt_counts(store: Store) -> None:
    call = queue(store, machine_detection=MachineDetection.HUMANS_ONLY)
    retry = attempt(
        store,
        call,
        answered_at=time.time(),
        answered_by=AnsweredBy.MACHINE,
        call_status=CallStatus.WAITING,
        next_attempt_at=time.time(),
    )
    assert (retry.status, retry.answered_by) == (CallStatus.WAITING, AnsweredBy.MACHINE)
    # An attempt nobody answered (busy) leaves what the answered one found.
    final = attempt(store, call, result="BUSY", call_status=CallStatus.USER_BUSY)
    assert (final.status, final.answered_by) == (CallStatus.USER_BUSY, AnsweredBy.MACHINE)
