"""Send: one number or up to 100 pasted, with a voice or a text to speak, and retries."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from voxcall.api.deps import ServicesDep
from voxcall.api.offload import audio_work
from voxcall.calls.errors import RequestRefused
from voxcall.calls.service import CallOptions
from voxcall.console.auth import MemberDep, checked_form
from voxcall.console.views import voice_form

router = APIRouter(include_in_schema=False)
MAX_NUMBERS = 100
_SEPARATORS = re.compile(r"[\s,;]+")


_DEFAULTS = {
    "numbers": "",
    "voice_id": "",
    "text": "",
    "language": "fa",
    "retry_count": "1",
    "retry_interval": "",
}


def _form_page(
    request: Request,
    member: MemberDep,
    services: ServicesDep,
    form: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    voices = services.voices.list(member.project)
    return voice_form(request, "send.html", member, "send", voices, _DEFAULTS, form, error)


@router.get("/send")
def send_form(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    return _form_page(request, member, services)


def _int(text: str, low: int, high: int) -> int | None:
    return int(text) if text.isdigit() and low <= int(text) <= high else None


@router.post("/send")
async def send(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    form = await checked_form(request, member.viewer.csrf)
    fields = {k: str(form.get(k, "")) for k in ("numbers", "voice_id", "text", "language")}
    fields["retry_count"] = str(form.get("retry_count", "1"))
    fields["retry_interval"] = str(form.get("retry_interval", "")).strip()
    numbers = [n for n in _SEPARATORS.split(fields["numbers"]) if n]

    def refuse(error: str) -> Response:
        return _form_page(request, member, services, fields, error)

    retry_count = _int(fields["retry_count"], 0, 5)
    interval = _int(fields["retry_interval"], 1, 86400) if fields["retry_interval"] else None
    if not numbers:
        return await run_in_threadpool(refuse, "Give at least one number.")
    if len(numbers) > MAX_NUMBERS:
        return await run_in_threadpool(refuse, "At most 100 numbers at once.")
    if retry_count is None or (fields["retry_interval"] and interval is None):
        return await run_in_threadpool(refuse, "Retries: 0 to 5, the interval 1 to 86400 s.")
    options = CallOptions(retry_count=retry_count, retry_interval=interval)
    batch = len(numbers) > 1
    project = member.project
    try:
        if fields["text"].strip():
            await run_in_threadpool(services.calls.check, project, numbers, options, batch=batch)
            voice = await audio_work(
                services.audio,
                services.voices.from_text,
                project,
                fields["text"],
                fields["language"] if fields["language"] in ("fa", "en") else "fa",
            )
            voice_id = voice.id
        else:
            voice_id = fields["voice_id"]
        placed = await run_in_threadpool(
            services.calls.place, project, numbers, voice_id, options, batch=batch
        )
    except RequestRefused as exc:
        return await run_in_threadpool(refuse, exc.message)
    if batch:
        return RedirectResponse(f"/calls?campaign={placed[0].campaign_id}", status_code=303)
    return RedirectResponse(f"/calls/{placed[0].id}", status_code=303)
