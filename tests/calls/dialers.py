"""Voices and dialers for the scheduler's tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import ClassVar

from voxcall.audio.wav import wav_bytes
from voxcall.dialers.base import AttemptOutcome, AttemptResult, DialRequest
from voxcall.dialers.sandbox import SandboxDialer
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.runtime import Services


def silent_voice(services: Services, project: Project, seconds: float) -> str:
    """A voice of `seconds` of silence, stored for `project`; its id."""
    voice_id = uuid.uuid4().hex
    pcm = bytes(int(seconds * 8000) * 2)
    services.voices.files.save(project.id, voice_id, original=b"x", wav=wav_bytes(pcm))
    services.store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, seconds, 0))
    return voice_id


class Stuck(SandboxDialer):
    """A driver that never reports, and when told to hang up (cancelled) still reports an
    answered call a little later: the late outcome the watchdog must ignore."""

    hung_up: ClassVar[list[str]] = []

    async def dial(self, request: DialRequest) -> AttemptOutcome:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            Stuck.hung_up.append(request.attempt_id)
        await asyncio.sleep(0.05)
        now = time.time()
        return AttemptOutcome(AttemptResult.ANSWERED, now - 9, now, answered_at=now - 8, bill_sec=8)
