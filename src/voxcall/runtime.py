"""One voxcall process: its services, and the background work of a worker.

Roles: an API node only accepts and answers; a worker claims and places calls and delivers
webhooks; `all` (the default, and the only sensible role on SQLite) does both.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from voxcall.calls.accounts import AccountService
from voxcall.calls.campaigns import CampaignService
from voxcall.calls.dialers import DialerService
from voxcall.calls.holidays import HolidayService
from voxcall.calls.operations import OperationsService
from voxcall.calls.projects import ProjectService
from voxcall.calls.releaser import CampaignReleaser
from voxcall.calls.reports import ReportService
from voxcall.calls.scheduler import Scheduler
from voxcall.calls.service import CallService
from voxcall.calls.sign_in_throttle import SignInThrottle
from voxcall.calls.users import UserService
from voxcall.calls.voices import VoiceService
from voxcall.config import Settings
from voxcall.dialers.registry import build_dialer
from voxcall.metrics import Metrics
from voxcall.store.files import VoiceFiles
from voxcall.store.notify import listen
from voxcall.store.store import Store
from voxcall.webhooks.delivery import WebhookDeliverer

ROLES = ("all", "api", "worker")
SWEEP_INTERVAL = 300.0  # seconds between two sweeps of generated voices
log = logging.getLogger("voxcall.runtime")


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    calls: CallService
    campaigns: CampaignService
    accounts: AccountService
    voices: VoiceService
    users: UserService
    sign_ins: SignInThrottle
    projects: ProjectService
    reports: ReportService
    dialers: DialerService
    operations: OperationsService
    holidays: HolidayService
    scheduler: Scheduler
    releaser: CampaignReleaser
    webhooks: WebhookDeliverer
    metrics: Metrics
    # Decoding uploads and synthesizing speech: CPU work, off the event loop, bounded.
    audio: ThreadPoolExecutor


def build_services(settings: Settings) -> Services:
    settings.prepare()
    store = Store.open(settings.database_url, create=settings.embedded, timeout=settings.db_timeout)
    voice_files = VoiceFiles(settings.voices_dir)
    metrics = Metrics()
    metrics.watch(store)
    webhooks = WebhookDeliverer(
        store,
        backoff_base=float(os.environ.get("VOXCALL_WEBHOOK_BACKOFF", "2")),
        metrics=metrics,
    )
    releaser = CampaignReleaser(store)

    def call_final() -> None:
        webhooks.wake()
        releaser.wake()  # a campaign's channel may be free for its next number

    scheduler = Scheduler(
        store,
        voice_files,
        build_dialer=functools.partial(build_dialer, sandbox_speed=settings.sandbox_speed),
        single_node=store.engine.dialect.name == "sqlite",
        lease=settings.worker_lease,
        watchdog=settings.attempt_watchdog,
        on_call_final=call_final,
        metrics=metrics,
    )
    releaser.on_released = scheduler.wake
    calls = CallService(store, on_new_calls=scheduler.wake)
    voices = VoiceService(store, voice_files)
    return Services(
        settings=settings,
        store=store,
        calls=calls,
        campaigns=CampaignService(store, calls, on_new_campaign=releaser.wake),
        accounts=AccountService(store),
        voices=voices,
        users=UserService(store),
        sign_ins=SignInThrottle(store),
        projects=ProjectService(store),
        reports=ReportService(store, on_redeliver=webhooks.wake),
        dialers=DialerService(store),
        operations=OperationsService(store),
        holidays=HolidayService(store),
        scheduler=scheduler,
        releaser=releaser,
        webhooks=webhooks,
        metrics=metrics,
        audio=ThreadPoolExecutor(settings.audio_workers, thread_name_prefix="voxcall-audio"),
    )


def freeze_startup_objects() -> None:
    """Keep what start-up built out of the garbage collector's full passes.

    Imports, the app and the services are hundreds of thousands of objects that live as long
    as the process; a full collection walking them took tens of milliseconds and was the
    99th-percentile latency of call intake (bench/intake.py: p99 92 ms before, 31 ms after).
    """
    gc.collect()
    gc.freeze()


async def _sweep_voices(voices: VoiceService) -> None:
    """Generated voices no call will use, and files left without a voice, every few minutes."""
    while True:
        try:
            removed = await asyncio.to_thread(voices.sweep)
        except Exception:  # the store is down, a file is busy: next round
            log.exception("voice sweep failed")
        else:
            if removed:
                log.info("voice sweep removed the files of %d voice(s)", removed)
        await asyncio.sleep(SWEEP_INTERVAL)


@contextlib.asynccontextmanager
async def worker(services: Services) -> AsyncIterator[None]:
    """Release campaigns' numbers, dispatch calls and deliver webhooks while the block runs;
    stop them cleanly after."""
    loop = type(asyncio.get_running_loop())
    logging.getLogger("voxcall").info("event loop %s.%s", loop.__module__, loop.__qualname__)
    tasks = [
        asyncio.create_task(services.scheduler.run()),
        asyncio.create_task(services.webhooks.run()),
        asyncio.create_task(services.releaser.run()),
    ]
    sweeper = asyncio.create_task(_sweep_voices(services.voices))
    listener = None
    if services.store.engine.dialect.name == "postgresql":

        def wake() -> None:
            services.scheduler.wake()
            services.webhooks.wake()
            services.releaser.wake()

        listener = asyncio.create_task(listen(services.settings.database_url, wake))
    try:
        yield
    finally:
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        services.releaser.stop()
        await services.scheduler.stop()
        await services.webhooks.stop()
        await asyncio.gather(*tasks)
