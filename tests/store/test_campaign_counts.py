"""A campaign's counts are kept, not counted (store/campaign_counts.py): after any sequence
of releases, attempts, retries, final calls, cancels, expiries, do-not-call stops, abandoned
attempts and transactions killed halfway, on SQLite and PostgreSQL, they equal a recount of
its calls."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from voxcall.calls.dialers import new_dialer
from voxcall.domain.calls import AttemptRecord, CallStatus, ClaimedAttempt
from voxcall.domain.campaigns import CampaignPolicy, CampaignState, NewCampaign, Skips
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store import call_queue
from voxcall.store import schema as t
from voxcall.store.campaigns import ListBatch
from voxcall.store.store import Store

LIST = 40  # numbers per campaign
FINAL_OUTCOMES = (CallStatus.NORMAL, CallStatus.NO_ANSWER, CallStatus.USER_BUSY)


class Killed(Exception):
    """The process died in the middle of a transaction."""


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url, create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=8, cps=1000))
    yield store
    store.close()


@pytest.fixture
def project(store: Store) -> Project:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    store.credit(project.id, 10**9, kind="topup", note="")
    return project


def _campaign(store: Store, project: Project, prefix: int) -> str:
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = int(time.time())
    policy = CampaignPolicy(voice_id, "d1", 2, 1, now, now + 3600, None, None, None, 900)
    numbers = [(i + 1, f"09{prefix}{i:08d}", f"+989{prefix}{i:08d}") for i in range(LIST)]
    created = store.create_campaign(
        NewCampaign(uuid.uuid4().hex, project.id, f"c{prefix}", policy, now),
        [ListBatch.of(numbers)],
        lambda: (Skips(), ()),
    )
    return created.id


def _record(attempt: ClaimedAttempt, status: CallStatus, price: int) -> AttemptRecord:
    answered = status is CallStatus.NORMAL
    return AttemptRecord(
        attempt_id=attempt.attempt_id,
        result="ANSWERED" if answered else "NO_ANSWER",
        answered_at=time.time() if answered else None,
        ended_at=time.time(),
        bill_sec=5 if answered else 0,
        cause="",
        call_status=status,
        next_attempt_at=time.time() if status is CallStatus.WAITING else None,
        billed_sec=5 if answered else 0,
        price_milli=price if answered else 0,
    )


def _recount(store: Store, project: Project, campaign_id: str) -> tuple[dict[CallStatus, int], int]:
    """The campaign's counts as its calls say, counted the slow way."""
    c = t.calls.c
    campaign = store.get_campaign(project.id, campaign_id)
    assert campaign is not None
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                t.calls.c.status, func.count(), func.coalesce(func.sum(t.calls.c.price_milli), 0)
            )
            .where(c.campaign_id == campaign_id)
            .group_by(c.status)
        ).all()
    counts = dict.fromkeys(CallStatus, 0) | {CallStatus[s]: n for s, n, _ in rows}
    ended = campaign.finished_at is not None or campaign.state is CampaignState.CANCELLED
    counts[CallStatus.EXPIRED if ended else CallStatus.WAITING] += (
        campaign.total - campaign.released
    )
    return counts, sum(int(price) for _, _, price in rows)


@pytest.mark.parametrize("seed", range(3))
def test_counts_equal_a_recount_after_random_operations(
    store: Store, project: Project, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    campaigns = [_campaign(store, project, prefix) for prefix in (10, 20)]
    dialer = store.get_dialer("d1")
    assert dialer is not None
    live: list[ClaimedAttempt] = []
    real_count_finals = call_queue.count_finals

    def killed_after_counting(*args: Any) -> None:
        real_count_finals(*args)
        raise Killed

    def release() -> None:
        store.release_campaign(rng.choice(campaigns), time.time(), channel_cap=rng.randint(1, 12))

    def claim() -> None:
        live.extend(store.claim_due(dialer, rng.randint(1, 8), time.time()))

    def finish(outcomes: tuple[CallStatus, ...] = (CallStatus.WAITING, *FINAL_OUTCOMES)) -> None:
        rng.shuffle(live)
        ending = [live.pop() for _ in range(min(len(live), rng.randint(1, 4)))]
        store.finish_attempts(
            [(a.call.id, _record(a, rng.choice(outcomes), rng.randint(100, 900))) for a in ending]
        )  # WAITING: retried

    def killed_finish() -> None:
        """A final attempt whose transaction dies after the counts were added: none of it
        is kept, the counts neither."""
        if not live:
            return
        before = {c: _recount(store, project, c) for c in campaigns}
        held = list(live)
        monkeypatch.setattr(call_queue, "count_finals", killed_after_counting)
        with pytest.raises(Killed):
            finish(FINAL_OUTCOMES)
        monkeypatch.setattr(call_queue, "count_finals", real_count_finals)
        live[:] = held  # still on the line
        assert {c: _recount(store, project, c) for c in campaigns} == before

    def cancel_call() -> None:
        calls = store.campaign_calls(project.id, rng.choice(campaigns))
        if calls:
            store.cancel_call(project.id, rng.choice(calls).id)

    def list_a_number() -> None:  # its queued call stops at its next claim
        calls = store.campaign_calls(project.id, rng.choice(campaigns))
        if calls:
            store.add_dnc(project.id, [rng.choice(calls).e164], int(time.time()))

    def abandon() -> None:  # a worker that died with attempts on the line
        store.recover_interrupted()
        live.clear()

    def cancel_campaign() -> None:
        store.set_campaign_state(project.id, rng.choice(campaigns), CampaignState.CANCELLED)

    def expire() -> None:
        store.expire_due(time.time() + 10**6)

    operations: list[tuple[Callable[[], None], int]] = [
        (release, 6), (claim, 6), (finish, 8), (killed_finish, 2), (cancel_call, 2),
        (list_a_number, 1), (abandon, 1), (cancel_campaign, 1), (expire, 1),
    ]  # fmt: skip
    for _ in range(80):
        rng.choices([o for o, _ in operations], [w for _, w in operations])[0]()
        for campaign_id in campaigns:
            campaign = store.get_campaign(project.id, campaign_id)
            assert campaign is not None
            assert (campaign.counts, campaign.price_milli) == _recount(store, project, campaign_id)
    with store.engine.connect() as conn:  # the walk made calls final: the counters moved
        assert conn.execute(select(func.sum(t.campaign_counts.c.calls))).scalar_one() > 0
