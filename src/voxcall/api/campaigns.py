"""Campaign endpoints (api.md §8)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from voxcall.api.auth import current_project
from voxcall.api.body import is_multipart, multipart_file, read_json
from voxcall.api.calls import ok, ok_calls
from voxcall.api.campaign_schemas import (
    REPORT_COLUMNS,
    CampaignForm,
    CampaignJson,
    CampaignObject,
    campaign_json,
    report_row,
)
from voxcall.api.deps import ServicesDep
from voxcall.api.errors import ApiError
from voxcall.api.idempotency import respond_once
from voxcall.api.offload import audio_work
from voxcall.api.openapi import links, operation
from voxcall.api.query import refuse_unknown_query
from voxcall.api.schemas import CallStatusObject
from voxcall.calls.lists import BinaryReadable
from voxcall.domain.calls import CallStatus
from voxcall.domain.campaigns import Campaign
from voxcall.domain.projects import Project
from voxcall.runtime import Services

router = APIRouter(prefix="/api/v2/campaign", tags=["campaign"])
ProjectDep = Annotated[Project, Depends(current_project)]
_CREATE = ("InvalidServer", "InvalidVoice", "StorageQuotaExceeded")
_CAMPAIGN = links("campaign_id", "$response.body#/result/id", "get_campaign", "campaign_calls")
REPORT_CHUNK = 1000  # CSV rows per piece of the streamed report
_JSON_FIELDS = ("window", "gather")  # form fields that hold a JSON object


CallStatusName = Literal[
    "WAITING", "NORMAL", "NO_ANSWER", "USER_BUSY", "EXPIRED", "ERROR", "UNKNOWN"
]


@router.post(
    "", **operation(CampaignObject, *_CREATE, body=CampaignJson, post=True, links=_CAMPAIGN)
)
async def create(request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    """JSON with `phoneNumbers`, or multipart with a `file` and the fields as form fields.
    An Idempotency-Key applies to JSON; a file is read as it streams, never kept whole."""
    if is_multipart(request):
        return JSONResponse(await _create_from_file(request, services, project))

    async def work(_: str | None) -> dict[str, Any]:
        body = await read_json(request, CampaignJson)
        voice_id = await _voice_id(services, project, body)
        campaign = await run_in_threadpool(
            services.campaigns.create, project, body.fields(voice_id), body.phoneNumbers
        )
        return ok(_campaign(services, project, campaign))

    return await respond_once(request, services.store, project, work)


async def _create_from_file(
    request: Request, services: Services, project: Project
) -> dict[str, Any]:
    async with multipart_file(request, max_fields=30) as (form, upload):
        fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        for name in _JSON_FIELDS:
            if name in fields:
                try:
                    fields[name] = json.loads(fields[name])
                except ValueError as exc:
                    message = f"{name}: must be a JSON object"
                    raise ApiError(400, "InvalidRequest", message) from exc
        try:
            body = CampaignForm.model_validate(fields)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
        voice_id = await _voice_id(services, project, body)
        stream: BinaryReadable = upload.file
        campaign = await run_in_threadpool(
            services.campaigns.create, project, body.fields(voice_id), stream
        )
    return ok(_campaign(services, project, campaign))


def _campaign(services: Services, project: Project, campaign: Campaign) -> dict[str, Any]:
    return campaign_json(campaign, services.campaigns.status(project, campaign, time.time()))


async def _voice_id(services: Services, project: Project, body: CampaignForm) -> str:
    """The campaign's voice: `voiceId`, or `text` spoken once (kept as the project's voice)."""
    if body.voiceId is not None:
        if body.text is not None:
            raise ApiError(400, "InvalidRequest", "text: give a voiceId or a text, not both")
        return body.voiceId
    if body.text is None:
        raise ApiError(400, "InvalidRequest", "voiceId: required (or a text to speak)")
    voice = await audio_work(
        services.audio, services.voices.from_text, project, body.text, body.language
    )
    return voice.id


@router.get("", **operation(list[CampaignObject], "NotFound", "InvalidRequest"))
async def list_campaigns(
    request: Request,
    services: ServicesDep,
    project: ProjectDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: str | None = None,
) -> dict[str, Any]:
    """The project's campaigns, newest first; `before`: the last campaign of the page before."""
    refuse_unknown_query(request, "limit", "before")
    found = await run_in_threadpool(services.campaigns.page, project, limit=limit, before=before)
    return ok([_campaign(services, project, c) for c in found])


@router.get("/{campaign_id}", **operation(CampaignObject, "NotFound"))
async def get_campaign(
    campaign_id: str, services: ServicesDep, project: ProjectDep
) -> dict[str, Any]:
    campaign = await run_in_threadpool(services.campaigns.get, project, campaign_id)
    return ok(_campaign(services, project, campaign))


Change = Callable[[Project, str], Campaign]  # a CampaignService method: pause, resume, cancel


async def _change(
    request: Request, services: Services, project: Project, campaign_id: str, change: Change
) -> Response:
    async def work(_: str | None) -> dict[str, Any]:
        campaign = await run_in_threadpool(change, project, campaign_id)
        return ok(_campaign(services, project, campaign))

    return await respond_once(request, services.store, project, work)


@router.post("/{campaign_id}/pause", **operation(CampaignObject, "NotFound", post=True))
async def pause_campaign(
    request: Request, campaign_id: str, services: ServicesDep, project: ProjectDep
) -> Response:
    """Release no more of its numbers until resumed."""
    return await _change(request, services, project, campaign_id, services.campaigns.pause)


@router.post("/{campaign_id}/resume", **operation(CampaignObject, "NotFound", post=True))
async def resume_campaign(
    request: Request, campaign_id: str, services: ServicesDep, project: ProjectDep
) -> Response:
    return await _change(request, services, project, campaign_id, services.campaigns.resume)


@router.post("/{campaign_id}/cancel", **operation(CampaignObject, "NotFound", post=True))
async def cancel_campaign(
    request: Request, campaign_id: str, services: ServicesDep, project: ProjectDep
) -> Response:
    """Every call that has not started its next attempt, and every number not released yet,
    becomes EXPIRED."""
    return await _change(request, services, project, campaign_id, services.campaigns.cancel)


@router.get(
    "/{campaign_id}/calls", **operation(list[CallStatusObject], "NotFound", "InvalidRequest")
)
async def campaign_calls(
    request: Request,
    campaign_id: str,
    services: ServicesDep,
    project: ProjectDep,
    status: CallStatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: str | None = None,
) -> Response:
    """The calls of its numbers released so far, in list order; `after`: the last call of
    the page before."""
    refuse_unknown_query(request, "status", "limit", "after")
    calls = await run_in_threadpool(
        services.campaigns.calls_page,
        project,
        campaign_id,
        limit=limit,
        after=after,
        status=CallStatus[status] if status is not None else None,
    )
    return ok_calls(calls)


@router.get(
    "/{campaign_id}/report.csv",
    **operation(
        None,
        "NotFound",
        content={"text/csv": {"schema": {"type": "string"}}},
    ),
)
async def report(campaign_id: str, services: ServicesDep, project: ProjectDep) -> Response:
    """One row per number of the list, in list order."""
    campaign, rows = await run_in_threadpool(services.campaigns.report, project, campaign_id)
    ended = campaign.finished_at is not None  # done or cancelled

    def pieces() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        for count, row in enumerate(rows, start=1):
            writer.writerow(report_row(row.national_number, row.call, ended=ended))
            if count % REPORT_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        pieces(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign.id}.csv"'},
    )
