"""The releaser: moves campaigns' numbers into the call queue just in time, as their channels
free, so that a campaign of a million numbers holds a channel's worth of calls and of
reservations at any moment (api.md §8). Runs in the worker role beside the scheduler.

Each release is one store transaction that queues the calls and marks their numbers
released: a crash releases a number once or not at all, whichever worker runs it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from voxcall.calls.call_windows import WINDOWS_REFRESH, WindowRules, releasing
from voxcall.domain.campaigns import CampaignPolicy
from voxcall.domain.dialers import DialerConfig
from voxcall.store.database import StoreUnavailable
from voxcall.store.store import Store

log = logging.getLogger("voxcall.releaser")


def channel_cap(policy: CampaignPolicy, enabled: Mapping[str, DialerConfig]) -> int:
    """How many of a campaign's calls may be in the call queue at once: the channels of
    the dialer it must use (of every enabled dialer when it may use any), within its
    `maxChannels`."""
    if policy.dialer_id is not None:
        dialer = enabled.get(policy.dialer_id)
        channels = dialer.channels if dialer is not None else 0
    else:
        channels = sum(d.channels for d in enabled.values())
    if policy.max_channels is not None:
        return min(channels, policy.max_channels)
    return channels


class CampaignReleaser:
    def __init__(
        self,
        store: Store,
        *,
        poll_interval: float = 1.0,
        on_released: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        # A round also runs when a call ends or a campaign starts (wake); polling catches
        # what nothing announces: startAt reached, a top-up, endAt passed.
        self.poll_interval = poll_interval
        self.on_released = on_released  # e.g. wake the scheduler
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._windows = WindowRules()
        self._next_windows = 0.0

    def release_round(self, now: float) -> int:
        """Release what every open campaign may release now; how many numbers were."""
        campaigns = self.store.open_campaigns(now)
        if not campaigns:
            return 0
        enabled = {d.id: d for d in self.store.list_dialers(enabled_only=True)}
        windows = self._windows_in_force()
        released = 0
        for campaign in campaigns:
            # outside its window: nothing released (the store still finishes it at endAt)
            released_now = releasing(campaign, windows, now)
            cap = channel_cap(campaign.policy, enabled) if released_now else 0
            released += self.store.release_campaign(campaign.id, now, channel_cap=cap).count
        return released

    def _windows_in_force(self) -> WindowRules:
        """The windows and holidays in force, read again once WINDOWS_REFRESH old."""
        if time.monotonic() >= self._next_windows:
            self._windows = WindowRules.from_stored(self.store.windows_in_force())
            self._next_windows = time.monotonic() + WINDOWS_REFRESH
        return self._windows

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            self._wake.clear()
            try:
                if await asyncio.to_thread(self.release_round, time.time()):
                    self.on_released()
            except StoreUnavailable as exc:
                log.error("store unavailable, campaigns wait: %s", exc)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    def wake(self) -> None:
        """Ask for a round now; safe to call from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
