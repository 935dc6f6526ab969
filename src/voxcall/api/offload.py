"""Audio work (decoding an upload, speaking a text) on the process's bounded audio pool."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def audio_work(pool: Executor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` on the audio pool. A request waiting for a turn holds no thread: the
    threads that answer other requests (Starlette's pool) stay free however many wait."""
    return await asyncio.get_running_loop().run_in_executor(
        pool, functools.partial(fn, *args, **kwargs)
    )
