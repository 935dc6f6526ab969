"""LISTEN/NOTIFY on PostgreSQL: a committed call request wakes a listening worker at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from voxcall.domain.calls import NewCall
from voxcall.domain.voices import Voice
from voxcall.store.notify import listen
from voxcall.store.store import Store


async def test_new_calls_are_announced(postgres_url: str) -> None:
    store = Store.open(postgres_url, create=True)
    project = store.create_project("p", rate_limit=1, allowed_regions=["IR"])
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    listening = asyncio.Event()  # the first wake is the catch-up call made on connecting
    woken = asyncio.Event()

    def on_notify() -> None:
        (woken if listening.is_set() else listening).set()

    listener = asyncio.create_task(listen(postgres_url, on_notify))
    try:
        await asyncio.wait_for(listening.wait(), timeout=5)
        now = int(time.time())
        call = NewCall(
            uuid.uuid4().hex, project.id, None, voice_id, "09121234567", "+989121234567",
            None, 0, None, now, now + 60,
        )  # fmt: skip
        await asyncio.to_thread(store.insert_calls, [call])
        await asyncio.wait_for(woken.wait(), timeout=2)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        store.close()
