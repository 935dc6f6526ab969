"""The dispatcher: claims due attempts within each dialer's limits, places them, records them.

An attempt is committed as started *before* its driver dials, so a crash can only turn it into
UNKNOWN (see `Store.recover_interrupted`), never into a second dial. Its end is recorded in one
transaction together with what the call becomes, shielded from cancellation.

A watchdog bounds every attempt, whatever its driver does: with no outcome within the ring
timeout plus the voice's length (with `gather`, the longest the call may take collecting
keys) plus `watchdog` seconds, the attempt ends as ERROR through the
same path as any outcome (its channel and reservation are released), the driver is told to
hang up (its `dial` is cancelled), and what it reports later is ignored.

Attempts start only inside their calling windows (api.md §10, `call_windows`): a retry is
due no earlier than its window's next opening, and a claimed call whose window is closed
now (it was queued outside it, or a window or holiday changed while it waited) is handed
back to wait for that opening before it is dialled, its attempt undone.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from voxcall.audio.wav import read_wav_pcm
from voxcall.backoff import Backoff, retry
from voxcall.calls.call_windows import WINDOWS_REFRESH, WindowRules, attempt_from
from voxcall.calls.outcome_writer import OutcomeStore, OutcomeWriter
from voxcall.calls.settlement import attempt_record, settle
from voxcall.config import ATTEMPT_WATCHDOG
from voxcall.dialers.base import (
    AttemptOutcome,
    AttemptResult,
    Dialer,
    DialRequest,
    Voice8k,
)
from voxcall.dialers.registry import DialerFactory
from voxcall.domain.calls import (
    AttemptRecord,
    CallStatus,
    ClaimedAttempt,
    longest_talk,
    outcome_unknown,
)
from voxcall.domain.dialers import DialerConfig, cps_budget
from voxcall.metrics import Metrics
from voxcall.store.database import StoreUnavailable
from voxcall.store.files import VoiceFiles
from voxcall.store.window_waits import HandBack, WindowsInForce

log = logging.getLogger("voxcall.scheduler")

VOICE_CACHE_SIZE = 64
CLAIM_BATCH = 200  # attempts claimed by one transaction at most
MIN_ROUND = 0.01  # seconds: the shortest dispatch round
EXPIRY_INTERVAL = 1.0  # seconds between sweeps for calls past their time to live
HANG_UP_GRACE = 5.0  # seconds a stopping worker waits for cancelled dials to hang up


class DispatchStore(OutcomeStore, Protocol):
    """What the scheduler needs of the store: its worker's lease, the enabled dialers and
    their busy channels, claiming and expiring due calls, and (through its outcome writer)
    recording how attempts ended."""

    def recover_interrupted(self) -> int: ...

    def register_worker(self, worker_id: str, *, host: str, pid: int, now: float) -> None: ...

    def heartbeat(self, worker_id: str, now: float) -> bool: ...

    def unregister_worker(self, worker_id: str) -> None: ...

    def reap_dead_workers(self, now: float, lease: float) -> int: ...

    def expire_due(self, now: float) -> int: ...

    def list_dialers(self, *, enabled_only: bool = False) -> list[DialerConfig]: ...

    def busy_channels(self) -> dict[str, int]: ...

    def claim_due(
        self, dialer: DialerConfig, limit: int, now: float, *, worker_id: str | None = None
    ) -> list[ClaimedAttempt]: ...

    def windows_in_force(self) -> WindowsInForce: ...

    def hand_back(self, calls: Sequence[HandBack]) -> int: ...


@dataclass(slots=True)
class _Trunk:
    """A started driver and the settings it was built from."""

    key: str
    dialer: Dialer


class Scheduler:
    def __init__(
        self,
        store: DispatchStore,
        files: VoiceFiles,
        *,
        build_dialer: DialerFactory,
        poll_interval: float = 0.25,
        shutdown_grace: float = 30.0,
        single_node: bool = True,
        lease: float = 30.0,
        watchdog: float = ATTEMPT_WATCHDOG,
        on_call_final: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        windows_refresh: float = WINDOWS_REFRESH,
    ) -> None:
        self.store = store
        self.files = files
        self.build_dialer = build_dialer
        self.poll_interval = poll_interval
        self.shutdown_grace = shutdown_grace
        # single_node (SQLite): no other worker can exist, so every live attempt found at
        # start-up was this node's. Otherwise a dead worker is found by its lapsed lease.
        self.single_node = single_node
        self.lease = lease
        self.watchdog = watchdog
        self.on_call_final = on_call_final  # e.g. wake the webhook deliverer
        self.metrics = metrics or Metrics()
        # The time attempts are claimed, windows checked and retries scheduled at (a test's
        # clock can stand for it).
        self.clock = clock
        self.windows_refresh = windows_refresh
        self.worker_id = uuid.uuid4().hex
        self._next_heartbeat = 0.0
        self._next_expiry = 0.0
        self._windows = WindowRules()
        self._next_windows = 0.0
        self._trunks: dict[str, _Trunk] = {}
        self._retired: list[Dialer] = []
        self._attempts: set[asyncio.Task[None]] = set()
        # Drivers' `dial` tasks, including those the watchdog gave up on that have not ended.
        self._dials: set[asyncio.Task[AttemptOutcome]] = set()
        self._voices: OrderedDict[str, Voice8k] = OrderedDict()
        self._wake = asyncio.Event()
        self._stopping = False
        self._outcomes = OutcomeWriter(
            store, giving_up=lambda delay: self._stopping and delay >= 5.0
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def run(self) -> None:
        """Recover from a previous crash, then dispatch until `stop`."""
        self._loop = asyncio.get_running_loop()
        if self.single_node:
            recovered = await asyncio.to_thread(self.store.recover_interrupted)
            if recovered:
                log.warning("%d call(s) were mid-attempt at the last stop: now UNKNOWN", recovered)
        await self._register()
        while not self._stopping:
            self._wake.clear()  # before the round: a wake during it calls for another
            started = time.monotonic()
            try:
                await self._keep_lease()
                await self._tick()
            except StoreUnavailable as exc:
                log.error("store unavailable, dispatch paused: %s", exc)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
            # Many wakes (a burst of accepted requests) make one round, not one round each.
            await asyncio.sleep(max(0.0, started + MIN_ROUND - time.monotonic()))

    def wake(self) -> None:
        """Ask for a dispatch round now; safe to call from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        """Claim nothing more; let live attempts end within the grace period, then hang up."""
        self._stopping = True
        self._wake.set()
        if self._attempts:
            log.info(
                "waiting up to %.0f s for %d attempt(s)", self.shutdown_grace, len(self._attempts)
            )
            _, pending = await asyncio.wait(set(self._attempts), timeout=self.shutdown_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._dials:
            # A dial the watchdog gave up on may still be hanging up: a driver is closed
            # only when none of its dials runs (one that never ends is left behind).
            await asyncio.wait(set(self._dials), timeout=HANG_UP_GRACE)
        await self._outcomes.drain()
        for trunk in self._trunks.values():
            await trunk.dialer.close()
        for dialer in self._retired:
            await dialer.close()
        try:
            await asyncio.to_thread(self.store.unregister_worker, self.worker_id)
        except StoreUnavailable:
            pass  # the others will find the lease lapsed

    # -- the worker's lease ---------------------------------------------------------

    async def _register(self) -> None:
        def keep_trying(error: Exception, wait: float) -> bool:
            log.error("cannot register this worker yet: %s", error)
            return True

        await retry(
            lambda: asyncio.to_thread(
                self.store.register_worker,
                self.worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                now=time.time(),
            ),
            Backoff(first=0.1, cap=5.0),
            transient=StoreUnavailable,
            keep_trying=keep_trying,
        )
        self._next_heartbeat = time.monotonic() + self.lease / 6

    async def _keep_lease(self) -> None:
        """Heartbeat, and close the attempts of workers whose lease has lapsed."""
        if time.monotonic() < self._next_heartbeat:
            return
        self._next_heartbeat = time.monotonic() + self.lease / 6
        now = time.time()
        if not await asyncio.to_thread(self.store.heartbeat, self.worker_id, now):
            # Declared dead while alive (a long stall): our live attempts are UNKNOWN
            # already and their late results are ignored. Carry on under a new identity.
            log.error("worker %s lost its lease; registering again", self.worker_id)
            self.worker_id = uuid.uuid4().hex
            await self._register()
        reaped = await asyncio.to_thread(self.store.reap_dead_workers, now, self.lease)
        if reaped:
            log.warning("%d call(s) of a dead worker are now UNKNOWN", reaped)

    # -- dispatch -------------------------------------------------------------------

    async def _tick(self) -> None:
        await self._keep_windows()
        now = self.clock()
        if now >= self._next_expiry:
            self._next_expiry = now + EXPIRY_INTERVAL
            expired = await asyncio.to_thread(self.store.expire_due, now)
            if expired:
                log.info("%d call(s) expired", expired)
        dialers = await asyncio.to_thread(self.store.list_dialers, enabled_only=True)
        busy = await asyncio.to_thread(self.store.busy_channels)
        # Least loaded first, so that calls free to use any dialer go where channels are free.
        dialers.sort(key=lambda d: busy.get(d.id, 0) / max(d.channels, 1))
        for config in dialers:
            if self._stopping:
                return
            trunk = await self._trunk(config)
            if trunk is None:
                continue
            # The store spends the dialer's channels and calls-per-second budget for all
            # workers at once; this is only a cheap early skip.
            free = config.channels - busy.get(config.id, 0)
            if free <= 0:
                continue
            claimed = await asyncio.to_thread(
                self.store.claim_due,
                config,
                min(free, CLAIM_BATCH),
                now,
                worker_id=self.worker_id,
            )
            claimed = await self._inside_windows(claimed, now)
            for attempt in claimed:
                task = asyncio.create_task(self._attempt(config, trunk.dialer, attempt))
                self._attempts.add(task)
                task.add_done_callback(self._attempts.discard)
            if claimed:
                # These claims leave the dialer's calls-per-second window then: a round at
                # that moment claims what they held back, rather than up to a poll later.
                # (MIN_ROUND late: uvloop's timers may fire up to a millisecond early.)
                window, _ = cps_budget(config.cps)
                loop = asyncio.get_running_loop()
                loop.call_later(now + window + MIN_ROUND - self.clock(), self._wake.set)

    async def _keep_windows(self, *, now: bool = False) -> None:
        """Re-read the windows and holidays in force when the last read is stale (`now`:
        whatever its age)."""
        if not now and time.monotonic() < self._next_windows:
            return
        stored = await asyncio.to_thread(self.store.windows_in_force)
        self._windows = WindowRules.from_stored(stored)
        self._next_windows = time.monotonic() + self.windows_refresh

    async def _inside_windows(
        self, claimed: list[ClaimedAttempt], now: float
    ) -> list[ClaimedAttempt]:
        """The claimed attempts whose windows are open at `now`; the others are handed back,
        each call to wait for its window's next opening."""
        if not all(self._windows.knows(attempt.call) for attempt in claimed):
            await self._keep_windows(now=True)  # a campaign began since the last read
        held: list[HandBack] = []
        inside: list[ClaimedAttempt] = []
        for attempt in claimed:
            opening = attempt_from(attempt.call, self._windows, now)
            if opening > now:
                held.append(HandBack(attempt.attempt_id, attempt.call.id, opening))
            else:
                inside.append(attempt)
        if held:
            await self._hand_back(held)
            log.info("%d call(s) outside their calling window wait for it", len(held))
            self._wake.set()  # their channels are free for other calls

        return inside

    async def _hand_back(self, held: list[HandBack]) -> None:
        """Hand claimed calls back, trying again while the store is unreachable: an attempt
        left claimed would end UNKNOWN when its worker's lease lapses, never dialled."""

        def keep_trying(error: Exception, wait: float) -> bool:
            log.error("cannot hand %d call(s) back yet: %s", len(held), error)
            return not self._stopping or wait < HANG_UP_GRACE

        await retry(
            lambda: asyncio.to_thread(self.store.hand_back, held),
            Backoff(first=0.1, cap=5.0),
            transient=StoreUnavailable,
            keep_trying=keep_trying,
        )

    async def _trunk(self, config: DialerConfig) -> _Trunk | None:
        """The started driver for `config`, rebuilt when its settings changed."""
        key = json.dumps([config.driver, config.options], sort_keys=True)
        trunk = self._trunks.get(config.id)
        if trunk is not None and trunk.key == key:
            return trunk
        try:
            dialer = self.build_dialer(config.driver, config.options)
            await dialer.start()
        except Exception:
            log.exception("dialer %s cannot start; its calls wait", config.id)
            return None
        if trunk is not None:
            self._retired.append(trunk.dialer)
        trunk = _Trunk(key, dialer)
        self._trunks[config.id] = trunk
        return trunk

    async def _attempt(self, config: DialerConfig, dialer: Dialer, claim: ClaimedAttempt) -> None:
        call = claim.call
        try:
            outcome = await self._watched(config, dialer, claim)
        except asyncio.CancelledError:
            unknown = outcome_unknown("voxcall shut down")
            record = AttemptRecord(
                attempt_id=claim.attempt_id,
                result="UNKNOWN",
                answered_at=None,
                ended_at=time.time(),
                bill_sec=0,
                cause=unknown.cause,
                call_status=unknown.status,
                next_attempt_at=None,
            )
            await self._outcomes.write(call.id, record)
            self.metrics.attempt_ended(config.id, "UNKNOWN", CallStatus.UNKNOWN.name)
            raise
        except Exception as exc:
            log.exception("attempt %s failed inside the dialer", claim.attempt_id)
            outcome = AttemptOutcome(
                AttemptResult.ERROR, claim.started_at, time.time(), cause=f"dialer failure: {exc}"
            )
        settlement = settle(
            outcome,
            claim,
            config.tariff,
            dialer_retry_interval=config.retry_interval,
            now=self.clock(),
        )
        backoff_end = settlement.retry_at
        if backoff_end is not None:
            settlement = replace(
                settlement, retry_at=attempt_from(call, self._windows, backoff_end)
            )
        record = attempt_record(claim, outcome, settlement)
        if backoff_end is not None and record.next_attempt_at != backoff_end:
            record = replace(record, window_held_from=backoff_end)  # its window holds it
        await self._outcomes.write(call.id, record)
        final = settlement.status.name if settlement.status.is_final else None
        self.metrics.attempt_ended(config.id, outcome.result.name, final)
        if final is not None:
            self.on_call_final()
        self._wake.set()

    async def _watched(
        self, config: DialerConfig, dialer: Dialer, claim: ClaimedAttempt
    ) -> AttemptOutcome:
        """The driver's outcome, or ERROR once the attempt has outlived its watchdog."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        call = claim.call
        try:
            voice = await asyncio.wait_for(
                self._voice(call.project_id, call.voice_id), self.watchdog
            )
        except TimeoutError:
            return self._gave_up(config, claim, f"voice not read after {self.watchdog:.1f} s")
        limit = (
            config.ring_timeout
            + longest_talk(voice.duration, call.gather, call.machine_detection)
            + self.watchdog
        )
        request = DialRequest(
            attempt_id=claim.attempt_id,
            national_number=call.national_number,
            e164=call.e164,
            voice=voice,
            ring_timeout=float(config.ring_timeout),
            attempt_number=claim.number,
            gather=call.gather,
            machine_detection=call.machine_detection,
        )
        # A task of its own: waiting on it with a timeout returns on time even when the
        # driver does not (a cancelled driver may take a while to hang up, or never return).
        dial = asyncio.create_task(dialer.dial(request))
        self._dials.add(dial)
        dial.add_done_callback(self._dials.discard)
        try:
            await asyncio.wait([dial], timeout=started + limit - loop.time())
        finally:
            if not dial.done():  # the watchdog fired, or voxcall is stopping
                dial.cancel()  # the driver sends CANCEL or BYE
                dial.add_done_callback(functools.partial(_late, claim.attempt_id))
        if dial.done():
            return dial.result()
        return self._gave_up(config, claim, f"no outcome after {limit:.1f} s")

    def _gave_up(self, config: DialerConfig, claim: ClaimedAttempt, why: str) -> AttemptOutcome:
        cause = f"watchdog: {why}"
        log.error("attempt %s on dialer %s: %s", claim.attempt_id, config.id, cause)
        self.metrics.watchdog_fired(config.id)
        return AttemptOutcome(AttemptResult.ERROR, claim.started_at, time.time(), cause=cause)

    async def _voice(self, project_id: str, voice_id: str) -> Voice8k:
        voice = self._voices.get(voice_id)
        if voice is None:
            path = self.files.wav_path(project_id, voice_id)
            data = await asyncio.to_thread(path.read_bytes)
            pcm, _rate = read_wav_pcm(data)
            voice = Voice8k(pcm)
            self._voices[voice_id] = voice
            if len(self._voices) > VOICE_CACHE_SIZE:
                self._voices.popitem(last=False)
        else:
            self._voices.move_to_end(voice_id)
        return voice


def _late(attempt_id: str, dial: asyncio.Task[AttemptOutcome]) -> None:
    """What a driver reports after its attempt was recorded without it (the watchdog fired,
    or voxcall stopped): logged, never recorded."""
    if dial.cancelled():
        return
    error = dial.exception()
    if error is not None:
        log.warning("attempt %s: the dialer failed after it was recorded: %r", attempt_id, error)
    else:
        log.warning("attempt %s: late outcome ignored: %s", attempt_id, dial.result())
