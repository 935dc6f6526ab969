"""Money is never created or lost: random requests, outcomes and crash points (hypothesis)."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import select

from tests.billing.invariants import check_money
from voxcall.billing.money import parse_toman
from voxcall.calls.dialers import new_dialer
from voxcall.calls.errors import InsufficientBalance
from voxcall.calls.service import CallOptions, CallService
from voxcall.calls.settlement import attempt_record, settle
from voxcall.dialers.base import AttemptOutcome, AttemptResult
from voxcall.domain.calls import ClaimedAttempt
from voxcall.domain.money import Tariff
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store import schema as t
from voxcall.store.projects import InsufficientFunds
from voxcall.store.store import Store

DIALERS = {
    "dear": Tariff(parse_toman("600"), 30),
    "cheap": Tariff(parse_toman("100"), 60, parse_toman("5")),
}


class Ledger(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        self.store = Store.open(f"sqlite:///{self.folder / 'db.sqlite'}", create=True)
        self.service = CallService(self.store)
        self.projects: list[Project] = []
        self.voices: dict[str, str] = {}
        self.live: list[ClaimedAttempt] = []
        self.calls: list[tuple[Project, str]] = []
        self.reserved: dict[str, int] = {}  # call id -> what it reserved when accepted
        self.now = time.time()

    @initialize()
    def setup(self) -> None:
        for dialer_id, tariff in DIALERS.items():
            self.store.add_dialer(
                new_dialer(dialer_id, "sandbox", dialer_id, {}, channels=3, tariff=tariff)
            )
        for name in ("a", "b"):
            project = self.store.create_project(name, rate_limit=10, allowed_regions=["IR"])
            voice_id = uuid.uuid4().hex
            self.store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 20.0, 0))
            self.store.credit(project.id, 2_000_000, kind="topup", note="opening balance")
            self.projects.append(project)
            self.voices[project.id] = voice_id

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    @rule(who=st.integers(0, 1), toman=st.integers(1, 5000))
    def top_up(self, who: int, toman: int) -> None:
        self.store.credit(self.projects[who].id, toman * 1000, kind="topup", note="t")

    @rule(who=st.integers(0, 1), toman=st.integers(-3000, 3000))
    def adjust(self, who: int, toman: int) -> None:
        try:
            self.store.credit(self.projects[who].id, toman * 1000, kind="adjustment", note="a")
        except InsufficientFunds:
            pass  # would overdraw: refused, nothing written

    @rule(who=st.integers(0, 1), n=st.integers(1, 4), server=st.sampled_from([None, *DIALERS]))
    def place(self, who: int, n: int, server: str | None) -> None:
        project = self.projects[who]
        try:
            calls = self.service.place(
                project,
                ["09121234567"] * n,
                self.voices[project.id],
                CallOptions(server_id=server, retry_count=1),
            )
        except InsufficientBalance:
            return
        self.calls += [(project, c.id) for c in calls]
        self.reserved |= {c.id: c.reserved_milli for c in calls}

    @precondition(lambda self: self.calls)
    @rule(dialer=st.sampled_from(list(DIALERS)), k=st.integers(1, 3))
    def claim(self, dialer: str, k: int) -> None:
        config = self.store.get_dialer(dialer)
        assert config is not None
        # Past every call placed so far (they are due from their acceptance, in real time),
        # so that what a claim finds depends on the steps alone.
        self.now = max(self.now, time.time()) + 1
        self.live += self.store.claim_due(config, k, self.now)

    @precondition(lambda self: self.live)
    @rule(
        pick=st.integers(0, 100),
        result=st.sampled_from(list(AttemptResult)),
        bill_sec=st.integers(0, 90),
    )
    def finish(self, pick: int, result: AttemptResult, bill_sec: int) -> None:
        claim = self.live.pop(pick % len(self.live))
        # Seconds whatever the result: an attempt may be answered, then fail.
        outcome = AttemptOutcome(
            result, claim.started_at, self.now, answered_at=self.now, bill_sec=bill_sec
        )
        settlement = settle(
            outcome, claim, DIALERS[claim.dialer_id], dialer_retry_interval=0, now=self.now
        )
        self.store.finish_attempt(claim.call.id, attempt_record(claim, outcome, settlement))

    @precondition(lambda self: self.calls)
    @rule(pick=st.integers(0, 100))
    def cancel(self, pick: int) -> None:
        project, call_id = self.calls[pick % len(self.calls)]
        self.store.cancel_call(project.id, call_id)

    @rule()
    def expire_everything_queued(self) -> None:
        self.store.expire_due(self.now + 10**7)

    @rule()
    def crash_and_restart(self) -> None:
        # kill -9 between any two transactions: live attempts become UNKNOWN at the restart
        self.live.clear()
        self.store.recover_interrupted()

    @invariant()
    def money_is_conserved(self) -> None:
        check_money(self.store)

    @invariant()
    def no_call_costs_more_than_it_reserved(self) -> None:
        # What a request reserved when it was accepted is the most it may cost.
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(t.calls.c.id, t.calls.c.price_milli))
            prices = {call: price for call, price in rows}
        assert all(prices[call] <= held for call, held in self.reserved.items())


Ledger.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedger = Ledger.TestCase
