"""Campaigns (api.md §8): the project's campaigns with live progress, creating one from an
uploaded list, a campaign's page (live counts, progress chart, what was skipped and why),
pause / resume / cancel, and its report CSV. Through CampaignService, like the API."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from voxcall.api.campaign_schemas import REPORT_COLUMNS, report_row
from voxcall.api.deps import ServicesDep
from voxcall.api.offload import audio_work
from voxcall.calls.campaigns import CampaignFields
from voxcall.calls.errors import RequestRefused
from voxcall.calls.windows import InvalidWindow, Window
from voxcall.console.auth import MemberDep, checked_form
from voxcall.console.views import csv_rows, found, page, voice_form
from voxcall.console.web import PageNotFound, render
from voxcall.domain.calls import CallStatus
from voxcall.domain.campaigns import Campaign, CampaignStatus
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.domain.projects import Project
from voxcall.runtime import Services

router = APIRouter(include_in_schema=False)
PAGE = 20
ENDED = frozenset({CampaignStatus.DONE, CampaignStatus.CANCELLED})  # nothing left to watch
ACTIONS = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}  # and their notice


@dataclass(frozen=True, slots=True)
class Seen:
    """A campaign as a page shows it: its status now, and how much of its list is done."""

    campaign: Campaign
    status: CampaignStatus

    @property
    def done(self) -> int:
        """Numbers whose call is final (not waiting to be released or retried)."""
        return self.campaign.total - self.campaign.counts.get(CallStatus.WAITING, 0)

    @property
    def share(self) -> float:
        return self.done / self.campaign.total if self.campaign.total else 1.0

    @property
    def live(self) -> bool:
        return self.status not in ENDED

    @property
    def window(self) -> str | None:
        """The calling window in the form the create page takes."""
        policy = self.campaign.policy.window
        return str(Window.from_json(json.loads(policy))) if policy else None

    def bars(self) -> list[tuple[CallStatus, int, float, float]]:
        """The progress chart: each status's count, and its bar's start and width in % of
        the list."""
        total = self.campaign.total or 1
        bars, start = [], 0.0
        for status in CallStatus:
            count = self.campaign.counts.get(status, 0)
            if count:
                width = 100 * count / total
                bars.append((status, count, round(start, 3), round(width, 3)))
                start += width
        return bars


def _seen(services: Services, project: Project, campaign: Campaign) -> Seen:
    return Seen(campaign, services.campaigns.status(project, campaign, time.time()))


def _listing(member: MemberDep, services: ServicesDep, before: str | None) -> list[Seen]:
    with found():
        found_page = services.campaigns.page(member.project, limit=PAGE, before=before)
    return [_seen(services, member.project, c) for c in found_page]


@router.get("/campaigns")
def campaigns(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    before = request.query_params.get("before") or None
    shown = _listing(member, services, before)
    return page(
        request,
        "campaigns.html",
        member,
        "campaigns",
        shown=shown,
        before=before,
        older=shown[-1].campaign.id if len(shown) == PAGE else None,
    )


@router.get("/campaigns/live")
def campaigns_live(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    """The list's table alone, which the campaigns page polls."""
    before = request.query_params.get("before") or None
    return render(
        request, "_campaigns.html", {"shown": _listing(member, services, before), "before": before}
    )


_DEFAULTS = {
    "name": "",
    "voice_id": "",
    "text": "",
    "language": "fa",
    "retry_count": "1",
    "retry_interval": "",
    "start_at": "",
    "end_at": "",
    "window": "",
    "max_channels": "",
    "calls_per_minute": "",
    "max_digits": "",
    "gather_timeout": "",
    "finish_on_key": "",
    "repeat_key": "",
    "machine_detection": "off",
}


def _form_page(
    request: Request,
    member: MemberDep,
    services: ServicesDep,
    form: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    voices = services.voices.list(member.project)
    template = "campaign_new.html"
    return voice_form(request, template, member, "campaigns", voices, _DEFAULTS, form, error)


@router.get("/campaigns/new")
def new(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    return _form_page(request, member, services)


class Refused(ValueError):
    """A field of the form that cannot be used; the message (one of i18n's runtime
    messages) says which."""


BAD_NAME = "Name: 1 to 100 characters."
BAD_RETRIES = "Retries: 0 to 5, the interval 10 to 86400 s."
BAD_MOMENT = "Start and end: a date and a time."
BAD_PACE = "Channels: 1 to 100000; calls per minute: 1 to 1000000."
BAD_KEYS = "Keys: 1 to 16, waiting 1 to 30 s, the end and repeat keys different."
BAD_DETECTION = "Answering machines: choose one of the options."


def _whole(text: str, low: int, high: int, refusal: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise Refused(refusal)
    return int(text)


def _moment(text: str, zone: ZoneInfo) -> int | None:
    """A datetime-local field (YYYY-MM-DDTHH:MM) on the console's clock, as epoch seconds."""
    if not text.strip():
        return None
    try:
        local = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise Refused(BAD_MOMENT) from None
    return int(local.replace(tzinfo=zone).timestamp())


def campaign_fields(fields: dict[str, str], zone: ZoneInfo, voice_id: str) -> CampaignFields:
    """The form's fields as the service takes them; Refused names the first that is wrong."""
    name = fields["name"].strip()
    if not 1 <= len(name) <= 100:
        raise Refused(BAD_NAME)
    window = None
    if fields["window"].strip():
        try:
            window = json.dumps(Window.parse(fields["window"]).to_json())
        except InvalidWindow as exc:
            raise Refused(str(exc)) from exc
    try:
        machine_detection = MachineDetection(fields["machine_detection"])
    except ValueError:
        raise Refused(BAD_DETECTION) from None
    return CampaignFields(
        name=name,
        voice_id=voice_id,
        retry_count=_whole(fields["retry_count"], 0, 5, BAD_RETRIES) or 0,
        retry_interval=_whole(fields["retry_interval"], 10, 86400, BAD_RETRIES),
        start_at=_moment(fields["start_at"], zone),
        end_at=_moment(fields["end_at"], zone),
        window=window,
        max_channels=_whole(fields["max_channels"], 1, 100_000, BAD_PACE),
        calls_per_minute=_whole(fields["calls_per_minute"], 1, 1_000_000, BAD_PACE),
        gather=_gather(fields),
        machine_detection=machine_detection,
    )


def _gather(fields: dict[str, str]) -> Gather | None:
    """The keys to collect (api.md §11), when the form asks for any."""
    max_digits = _whole(fields["max_digits"], 1, 16, BAD_KEYS)
    if max_digits is None:
        return None
    timeout = _whole(fields["gather_timeout"], 1, 30, BAD_KEYS)
    try:
        return Gather(
            max_digits,
            5.0 if timeout is None else float(timeout),
            fields["finish_on_key"] or None,
            fields["repeat_key"] or None,
        )
    except ValueError:  # a key that is not one, or the same key twice
        raise Refused(BAD_KEYS) from None


def _text_fields(form: FormData) -> dict[str, str]:
    return {k: str(form.get(k, default)) for k, default in _DEFAULTS.items()}


@router.post("/campaigns")
async def create(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    form = await checked_form(request, member.viewer.csrf)
    fields = _text_fields(form)
    zone: ZoneInfo = request.app.state.console_zone
    project = member.project

    def refuse(error: str) -> Response:
        return _form_page(request, member, services, fields, error)

    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await run_in_threadpool(refuse, "Choose a file.")
        try:
            campaign_fields(fields, zone, "")  # refuse a wrong field before any text is spoken
            voice_id = fields["voice_id"]
            if fields["text"].strip():
                language = fields["language"] if fields["language"] in ("fa", "en") else "fa"
                voice = await audio_work(
                    services.audio, services.voices.from_text, project, fields["text"], language
                )
                voice_id = voice.id
            chosen = campaign_fields(fields, zone, voice_id)
            campaign = await run_in_threadpool(
                services.campaigns.create, project, chosen, upload.file
            )
        except Refused as exc:
            return await run_in_threadpool(refuse, str(exc))
        except RequestRefused as exc:
            return await run_in_threadpool(refuse, exc.message)
    finally:
        await form.close()
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


@router.get("/campaigns/{campaign_id}")
def campaign(
    campaign_id: str, request: Request, member: MemberDep, services: ServicesDep
) -> Response:
    with found():
        seen = _seen(services, member.project, services.campaigns.get(member.project, campaign_id))
    return page(request, "campaign.html", member, "campaigns", seen=seen, statuses=list(CallStatus))


@router.get("/campaigns/{campaign_id}/live")
def campaign_live(
    campaign_id: str, request: Request, member: MemberDep, services: ServicesDep
) -> Response:
    """The campaign's status, progress and counts alone, which its page polls."""
    with found():
        seen = _seen(services, member.project, services.campaigns.get(member.project, campaign_id))
    return render(request, "_campaign_live.html", {"seen": seen, "statuses": list(CallStatus)})


@router.post("/campaigns/{campaign_id}/{action}")
async def change(
    campaign_id: str, action: str, request: Request, member: MemberDep, services: ServicesDep
) -> Response:
    await checked_form(request, member.viewer.csrf)
    if action not in ACTIONS:
        raise PageNotFound
    with found():
        await run_in_threadpool(getattr(services.campaigns, action), member.project, campaign_id)
    return RedirectResponse(f"/campaigns/{campaign_id}?done={ACTIONS[action]}", status_code=303)


@router.get("/campaigns/{campaign_id}/report.csv")
def report(campaign_id: str, member: MemberDep, services: ServicesDep) -> Response:
    """One row per number of the list, as the API's report.csv."""
    with found():
        chosen, rows = services.campaigns.report(member.project, campaign_id)
    ended = chosen.finished_at is not None
    lines: Iterator[list[str]] = (
        report_row(row.national_number, row.call, ended=ended) for row in rows
    )
    return StreamingResponse(
        csv_rows(list(REPORT_COLUMNS), lines),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="campaign-{chosen.id}.csv"'},
    )
