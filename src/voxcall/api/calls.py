"""Call endpoints (api.md §3) and the balance (ext)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from voxcall.api.auth import Caller, authenticate, current_caller, current_project
from voxcall.api.body import M, read_json
from voxcall.api.deps import ServicesDep
from voxcall.api.idempotency import respond_once
from voxcall.api.offload import audio_work
from voxcall.api.openapi import links, operation
from voxcall.api.schemas import (
    Balance,
    BatchCall,
    BatchTtsCall,
    CallObject,
    CallStatusObject,
    OtpCall,
    ServerObject,
    SingleCall,
    SingleTtsCall,
    balance_json,
    call_json,
    server_json,
)
from voxcall.calls.errors import RequestRefused
from voxcall.calls.service import CallOptions, Idempotency
from voxcall.calls.voices import Speech
from voxcall.domain.calls import Call
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.runtime import Services
from voxcall.store.settings_cache import StaleSettings

router = APIRouter(prefix="/api/v2/voice", tags=["voice"])
account_router = APIRouter(prefix="/api/v2/account", tags=["account"])
ProjectDep = Annotated[Project, Depends(current_project)]
CallerDep = Annotated[Caller, Depends(current_caller)]
# What a call request can be refused for, beside what every POST can (voxcall.api.openapi).
_PLACE = (
    "InvalidPhoneNumber",
    "DoNotCall",
    "InvalidServer",
    "InvalidVoice",
    "InsufficientBalance",
)
_SPEAK = (
    "InvalidPhoneNumber",
    "DoNotCall",
    "InvalidServer",
    "InsufficientBalance",
    "StorageQuotaExceeded",
)
_CALL = links("call_id", "$response.body#/result/id", "status", "cancel")
_CAMPAIGN = links("campaign_id", "$response.body#/result/0/campaignId", "campaign")


def ok(result: Any) -> dict[str, Any]:
    return {"result": result, "error": None}


def ok_calls(calls: Iterable[Call]) -> JSONResponse:
    """The envelope of a list of call objects, rendered as it is: its values are JSON already,
    and FastAPI's jsonable_encoder would walk every one again (3 ms a hundred calls, half
    the CPU of a page of them)."""
    return JSONResponse(ok([call_json(c, with_e164=True) for c in calls]))


def _single_result(calls: list[Call]) -> dict[str, Any]:
    return ok(call_json(calls[0]))


def _batch_result(calls: list[Call]) -> dict[str, Any]:
    return ok([call_json(c) for c in calls])


async def place_calls(
    request: Request,
    services: Services,
    caller: Caller,
    key: str | None,
    numbers: list[str],
    voice_id: str,
    options: CallOptions,
    *,
    batch: bool,
    one_time_code: bool = False,
    new_voice: Voice | None = None,
) -> dict[str, Any]:
    """Queue the calls; with an Idempotency-Key, their response commits with them (and so
    does `new_voice`, speech made for them)."""
    shape = _batch_result if batch else _single_result
    idempotency: Idempotency | None = None
    if key is not None:
        idempotency = (
            caller.project.id,
            key,
            lambda calls: bytes(JSONResponse(shape(calls)).body).decode(),
        )
    place = services.calls.place
    try:
        calls = await run_in_threadpool(
            place,
            caller.project,
            numbers,
            voice_id,
            options,
            batch=batch,
            one_time_code=one_time_code,
            idempotency=idempotency,
            settings_version=caller.settings_version,
            new_voice=new_voice,
        )
    except (StaleSettings, RequestRefused):
        if caller.settings_version is None:
            raise
        # The cached settings changed, or refused the request and may be out of date: decide
        # again from the database (a revoked token gets its 401 here).
        project = await authenticate(request, services.store)
        calls = await run_in_threadpool(
            place,
            project,
            numbers,
            voice_id,
            options,
            batch=batch,
            one_time_code=one_time_code,
            idempotency=idempotency,
            new_voice=new_voice,
        )
    return shape(calls)


async def read_call(request: Request, services: Services, caller: Caller, model: type[M]) -> M:
    """The request's body. A caller from the settings cache is confirmed before a malformed
    body is answered: a revoked token gets its 401 first, as it would without the cache."""
    try:
        return await read_json(request, model)
    except Exception:
        if caller.settings_version is not None:
            await authenticate(request, services.store)
        raise


@router.post("/single", **operation(CallObject, *_PLACE, body=SingleCall, post=True, links=_CALL))
async def single(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    async def work(key: str | None) -> dict[str, Any]:
        body = await read_call(request, services, caller, SingleCall)
        return await place_calls(
            request,
            services,
            caller,
            key,
            [body.phoneNumber],
            body.voiceId,
            body.options(),
            batch=False,
        )

    return await respond_once(request, services.store, caller.project, work)


@router.post(
    "/batch", **operation(list[CallObject], *_PLACE, body=BatchCall, post=True, links=_CAMPAIGN)
)
async def batch(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    async def work(key: str | None) -> dict[str, Any]:
        body = await read_call(request, services, caller, BatchCall)
        return await place_calls(
            request,
            services,
            caller,
            key,
            body.phoneNumbers,
            body.voiceId,
            body.options(),
            batch=True,
        )

    return await respond_once(request, services.store, caller.project, work)


async def place_spoken(
    request: Request,
    services: Services,
    project: Project,
    key: str | None,
    body: SingleTtsCall | BatchTtsCall | OtpCall,
    speak: Callable[[], Speech],
) -> dict[str, Any]:
    """Speak (`speak`) only once the numbers, the dialer and the balance are accepted, then
    queue the calls that play it. New speech is stored with the calls: a refused request
    keeps none of it."""
    batch = isinstance(body, BatchTtsCall)
    one_time_code = isinstance(body, OtpCall)
    numbers = body.phoneNumbers if isinstance(body, BatchTtsCall) else [body.phoneNumber]
    await run_in_threadpool(
        services.calls.check,
        project,
        numbers,
        body.options(),
        batch=batch,
        one_time_code=one_time_code,
    )

    def speak_and_save() -> Speech:
        speech = speak()
        services.voices.save_speech(speech)
        return speech

    speech = await audio_work(services.audio, speak_and_save)
    try:
        return await place_calls(
            request,
            services,
            Caller(project),
            key,
            numbers,
            speech.voice.id,
            body.options(),
            batch=batch,
            one_time_code=one_time_code,
            new_voice=speech.voice if speech.new else None,
        )
    except Exception:
        # Not on cancellation: the placing thread may still commit; a sweep finds files
        # left without a voice.
        await run_in_threadpool(services.voices.discard_speech, speech)
        raise


async def _spoken_text(
    request: Request,
    services: Services,
    project: Project,
    key: str | None,
    model: type[SingleTtsCall | BatchTtsCall],
) -> dict[str, Any]:
    body = await read_json(request, model)
    voices = services.voices
    return await place_spoken(
        request,
        services,
        project,
        key,
        body,
        lambda: voices.spoken(project, body.text, body.language),
    )


@router.post(
    "/single/tts", **operation(CallObject, *_SPEAK, body=SingleTtsCall, post=True, links=_CALL)
)
async def single_tts(request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    return await respond_once(
        request,
        services.store,
        project,
        lambda key: _spoken_text(request, services, project, key, SingleTtsCall),
    )


@router.post(
    "/batch/tts",
    **operation(list[CallObject], *_SPEAK, body=BatchTtsCall, post=True, links=_CAMPAIGN),
)
async def batch_tts(request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    return await respond_once(
        request,
        services.store,
        project,
        lambda key: _spoken_text(request, services, project, key, BatchTtsCall),
    )


@router.post(
    "/otp",
    **operation(CallObject, *_PLACE, "StorageQuotaExceeded", body=OtpCall, post=True, links=_CALL),
)
async def otp(request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    async def work(key: str | None) -> dict[str, Any]:
        body = await read_json(request, OtpCall)
        voices = services.voices
        return await place_spoken(
            request,
            services,
            project,
            key,
            body,
            lambda: voices.spoken_code(
                project,
                body.text,
                body.language,
                repeat_count=body.repeatCount,
                prelude_voice_id=body.voiceId,
            ),
        )

    return await respond_once(request, services.store, project, work)


@router.get("/status/{call_id}", **operation(CallStatusObject, "NotFound"))
async def status(call_id: str, services: ServicesDep, project: ProjectDep) -> dict[str, Any]:
    call = await run_in_threadpool(services.calls.status, project, call_id)
    return ok(call_json(call, with_e164=True))


@router.get("/campaign/{campaign_id}", **operation(list[CallStatusObject], "NotFound"))
async def campaign(campaign_id: str, services: ServicesDep, project: ProjectDep) -> Response:
    """(ext) The calls of one batch in request order, or a campaign's first 1,000 in list
    order."""
    return ok_calls(await run_in_threadpool(services.campaigns.first_calls, project, campaign_id))


@router.post("/cancel/{call_id}", **operation(CallStatusObject, "NotFound", post=True))
async def cancel(
    request: Request, call_id: str, services: ServicesDep, project: ProjectDep
) -> Response:
    async def work(_: str | None) -> dict[str, Any]:
        call = await run_in_threadpool(services.calls.cancel, project, call_id)
        return ok(call_json(call, with_e164=True))

    return await respond_once(request, services.store, project, work)


@router.get("/servers", **operation(list[ServerObject]))
async def servers(services: ServicesDep, project: ProjectDep) -> dict[str, Any]:
    found = await run_in_threadpool(services.calls.servers, project)
    return ok([server_json(s) for s in found])


@account_router.get("/balance", **operation(Balance, "NotFound"))
async def balance(services: ServicesDep, project: ProjectDep) -> dict[str, Any]:
    """(ext) The project's balance, what open calls hold of it, and what is left."""
    current = await run_in_threadpool(services.accounts.balance, project)
    return ok(balance_json(current))
