"""Voice file endpoints (api.md §4)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool

from voxcall.api.auth import current_project
from voxcall.api.body import multipart_file, read_json
from voxcall.api.calls import ok
from voxcall.api.deps import ServicesDep
from voxcall.api.errors import ApiError
from voxcall.api.idempotency import respond_once
from voxcall.api.offload import audio_work
from voxcall.api.openapi import links, operation
from voxcall.api.query import refuse_unknown_query
from voxcall.api.schemas import Speech, VoiceObject, VoiceUpload, voice_json
from voxcall.calls.voices import MAX_VOICE_BYTES
from voxcall.domain.projects import Project
from voxcall.runtime import Services

router = APIRouter(prefix="/api/v2/file", tags=["file"])
ProjectDep = Annotated[Project, Depends(current_project)]

_MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
}
# Checked by the route, for api.md's message; described here.
Format = Annotated[str | None, WithJsonSchema({"type": "string", "enum": ["wav", "original"]})]
_VOICE = links("voice_id", "$response.body#/result/id", "download", "delete")
# The 8 kHz WAV by default, the upload's own type with ?format=original.
_AUDIO = {
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in dict.fromkeys(["audio/wav", *_MEDIA_TYPES.values(), "application/octet-stream"])
}


@router.post(
    "/voice",
    **operation(
        VoiceObject,
        "InvalidFile",
        "StorageQuotaExceeded",
        body=VoiceUpload,
        media_type="multipart/form-data",
        post=True,
        links=_VOICE,
    ),
)
async def upload(request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    return await respond_once(
        request, services.store, project, lambda _: _upload(request, services, project)
    )


async def _upload(request: Request, services: Services, project: Project) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "InvalidRequest", "body: must be multipart/form-data")
    async with multipart_file(request, max_fields=5) as (form, upload):
        data = await upload.read(MAX_VOICE_BYTES + 1)
        name = form.get("name")
    voice = await audio_work(
        services.audio,
        services.voices.upload,
        project,
        data,
        name=name if isinstance(name, str) and name else None,
        filename=upload.filename or "",
    )
    return ok(voice_json(voice))


@router.post(
    "/tts",
    **operation(VoiceObject, "StorageQuotaExceeded", body=Speech, post=True, links=_VOICE),
)
async def tts(request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    async def work(_: str | None) -> dict[str, Any]:
        body = await read_json(request, Speech)
        voice = await audio_work(
            services.audio, services.voices.from_text, project, body.text, body.language
        )
        return ok(voice_json(voice))

    return await respond_once(request, services.store, project, work)


@router.get("/voice", **operation(list[VoiceObject]))
async def list_voices(services: ServicesDep, project: ProjectDep) -> dict[str, Any]:
    voices = await run_in_threadpool(services.voices.list, project)
    return ok([voice_json(v) for v in voices])


@router.get("/voice/{voice_id}", **operation(None, "InvalidRequest", "NotFound", content=_AUDIO))
async def download(
    request: Request,
    voice_id: str,
    services: ServicesDep,
    project: ProjectDep,
    format: Format = None,
) -> FileResponse:
    refuse_unknown_query(request, "format")
    if format not in (None, "wav", "original"):
        raise ApiError(400, "InvalidRequest", "format: must be 'original' or 'wav'")
    service = services.voices
    voice = await run_in_threadpool(service.get, project, voice_id)
    original = format == "original"
    path = await run_in_threadpool(service.audio_path, project, voice_id, original=original)
    media = _MEDIA_TYPES.get(voice.format, "application/octet-stream") if original else "audio/wav"
    return FileResponse(path, media_type=media)


@router.delete("/voice/{voice_id}", **operation(None, "NotFound", "VoiceInUse"))
async def delete(voice_id: str, services: ServicesDep, project: ProjectDep) -> dict[str, Any]:
    await run_in_threadpool(services.voices.delete, project, voice_id)
    return ok(None)
