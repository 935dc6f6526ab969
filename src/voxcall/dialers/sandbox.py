"""The sandbox trunk: a provider's test credentials, with no telephone network behind it.

It rings about 2 s, answers and "plays" the whole voice, except by the last four digits of
the national number:

    0001  busy                       0004  answered, the callee hangs up after 1 s
    0002  rings until the ring timeout 0005  busy on the first attempt, answered later
    0003  the trunk rejects it

`speed` makes every wait N times shorter; reported times and billSec stay at real scale.
`cdr_file`, when set, receives one JSON line as each attempt starts and ends: the call detail
records a provider keeps, appended atomically so that several processes can share the file.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time

from voxcall.dialers.base import AttemptOutcome, AttemptResult, DialRequest

RING_SECONDS = 2.0
CALLEE_HANGUP_SECONDS = 1.0
REJECT_SECONDS = 0.1


class SandboxDialer:
    def __init__(
        self,
        *,
        speed: float = 1.0,
        cdr_file: str | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed: must be positive")
        self.speed = speed
        self.cdr_file = cdr_file
        self._cdr: int | None = None

    async def start(self) -> None:
        if self.cdr_file:
            self._cdr = os.open(self.cdr_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def close(self) -> None:
        if self._cdr is not None:
            os.close(self._cdr)
            self._cdr = None

    def _record(self, request: DialRequest, event: str) -> None:
        if self._cdr is not None:
            line = {
                "attempt": request.attempt_id,
                "event": event,
                "t": time.time(),
                "pid": os.getpid(),
            }
            os.write(self._cdr, (json.dumps(line) + "\n").encode())  # one write: atomic append

    async def dial(self, request: DialRequest) -> AttemptOutcome:
        self._record(request, "start")
        try:
            return await self._dial(request)
        finally:
            self._record(request, "end")

    async def _wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)

    async def _dial(self, request: DialRequest) -> AttemptOutcome:
        started = time.time()
        scenario = request.national_number[-4:]
        if scenario == "0005":
            scenario = "0001" if request.attempt_number == 1 else ""

        if scenario == "0001":
            await self._wait(RING_SECONDS)
            return AttemptOutcome(
                AttemptResult.BUSY, started, started + RING_SECONDS, cause="486 Busy Here"
            )
        if scenario == "0002":
            await self._wait(request.ring_timeout)
            return AttemptOutcome(
                AttemptResult.NO_ANSWER,
                started,
                started + request.ring_timeout,
                cause="ring timeout",
            )
        if scenario == "0003":
            await self._wait(REJECT_SECONDS)
            return AttemptOutcome(
                AttemptResult.ERROR,
                started,
                started + REJECT_SECONDS,
                cause="403 Forbidden",
            )

        await self._wait(RING_SECONDS)
        answered = started + RING_SECONDS
        if scenario == "0004":
            talk, cause = CALLEE_HANGUP_SECONDS, "callee hung up"
        else:
            talk, cause = request.voice.duration, "voice played"
        await self._wait(talk)
        return AttemptOutcome(
            AttemptResult.ANSWERED,
            started,
            answered + talk,
            answered_at=answered,
            bill_sec=math.ceil(talk),
            cause=cause,
        )
