"""Voices: upload (a file field that takes a drop), text to speech, a player of what the
callee hears, delete (refused while a call that is not final uses the voice)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from voxcall.api.deps import ServicesDep
from voxcall.api.offload import audio_work
from voxcall.calls.errors import RequestRefused
from voxcall.calls.voices import MAX_VOICE_BYTES
from voxcall.console.auth import MemberDep, checked_form
from voxcall.console.views import found, page

router = APIRouter(include_in_schema=False)


def _voices_page(
    request: Request, member: MemberDep, services: ServicesDep, error: str | None = None
) -> Response:
    response = page(
        request,
        "voices.html",
        member,
        "voices",
        voices=services.voices.list(member.project),
        error=error,
    )
    if error:
        response.status_code = 400
    return response


@router.get("/voices")
def voices(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    return _voices_page(request, member, services)


@router.post("/voices")
async def upload(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    form = await checked_form(request, member.viewer.csrf)
    try:
        upload = form.get("file")
        name = str(form.get("name", "")).strip() or None
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await run_in_threadpool(
                _voices_page, request, member, services, "Choose a file."
            )
        data = await upload.read(MAX_VOICE_BYTES + 1)
    finally:
        await form.close()
    try:
        await audio_work(
            services.audio,
            services.voices.upload,
            member.project,
            data,
            name=name,
            filename=upload.filename,
        )
    except RequestRefused as exc:
        return await run_in_threadpool(_voices_page, request, member, services, exc.message)
    return RedirectResponse("/voices?done=uploaded", status_code=303)


@router.post("/voices/tts")
async def speak(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    form = await checked_form(request, member.viewer.csrf)
    language = str(form.get("language", "fa"))
    try:
        await audio_work(
            services.audio,
            services.voices.from_text,
            member.project,
            str(form.get("text", "")),
            language if language in ("fa", "en") else "fa",
        )
    except RequestRefused as exc:
        return await run_in_threadpool(_voices_page, request, member, services, exc.message)
    return RedirectResponse("/voices?done=uploaded", status_code=303)


@router.post("/voices/{voice_id}/delete")
async def delete(
    voice_id: str, request: Request, member: MemberDep, services: ServicesDep
) -> Response:
    await checked_form(request, member.viewer.csrf)
    try:
        with found():
            await run_in_threadpool(services.voices.delete, member.project, voice_id)
    except RequestRefused as exc:  # in use (an unknown voice is the 404 page)
        return await run_in_threadpool(_voices_page, request, member, services, exc.message)
    return RedirectResponse("/voices?done=deleted", status_code=303)


@router.get("/voices/{voice_id}/audio")
def audio(voice_id: str, member: MemberDep, services: ServicesDep) -> Response:
    """The 8 kHz WAV the callee hears."""
    with found():
        path = services.voices.audio_path(member.project, voice_id, original=False)
    return FileResponse(path, media_type="audio/wav")
