"""Calls: the project's calls newest first, filtered, a page at a time (keyset), the CSV of
the filtered set, and a call's own page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import QueryParams

from voxcall.api.deps import ServicesDep
from voxcall.billing.money import toman
from voxcall.calls.ids import is_id
from voxcall.calls.numbers import InvalidPhoneNumber, parse_phone
from voxcall.console.auth import MemberDep
from voxcall.console.views import csv_rows, found, page
from voxcall.domain.calls import Call, CallStatus
from voxcall.domain.reports import CallCursor, CallFilter

router = APIRouter(include_in_schema=False)
PAGE = 50


def _date(text: str, zone: ZoneInfo, *, end: bool) -> int | None:
    """A date field (YYYY-MM-DD) as epoch seconds of its start, or of the next day's."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    if end:
        day += dt.timedelta(days=1)
    return int(dt.datetime.combine(day, dt.time(), zone).timestamp())


def _national(text: str) -> str | None:
    """The national form of a number as typed in any of its forms; as typed if it is none
    (then it matches nothing, which is what the visitor asked for)."""
    try:
        return parse_phone(text, allowed_regions=None).national
    except InvalidPhoneNumber:
        return text.strip() or None


def call_filter(query: QueryParams, zone: ZoneInfo) -> CallFilter:
    """The filters of the query string; what is empty or malformed filters nothing."""
    status = query.get("status", "")
    campaign = query.get("campaign", "").strip()
    return CallFilter(
        status=CallStatus[status] if status in CallStatus.__members__ else None,
        number=_national(query.get("number", "")),
        campaign_id=campaign if is_id(campaign) else None,
        since=_date(query.get("since", ""), zone, end=False),
        until=_date(query.get("until", ""), zone, end=True),
    )


@router.get("/calls")
def calls(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    zone = request.app.state.console_zone
    where = call_filter(request.query_params, zone)
    after = CallCursor.parse(request.query_params.get("after", ""))
    shown = services.reports.calls(member.project, where, after, PAGE)
    kept = {k: v for k, v in request.query_params.items() if k != "after" and v}
    return page(
        request,
        "calls.html",
        member,
        "calls",
        shown=shown,
        statuses=list(CallStatus),
        query=kept,
        next_query={**kept, "after": str(shown.next)} if shown.next else None,
        csv_query=kept,
    )


_HEADER = [
    "id", "requestDate", "phoneNumber", "e164", "status", "attempts", "billSec",
    "price", "campaignId", "voiceId", "cause",
]  # fmt: skip


def _row(call: Call) -> list[Any]:
    return [
        call.id,
        dt.datetime.fromtimestamp(call.request_date, dt.UTC).isoformat(),
        call.national_number,
        call.e164,
        call.status.name,
        call.attempts,
        call.bill_sec,
        toman(call.price_milli),
        call.campaign_id or "",
        call.voice_id,
        call.cause,
    ]


@router.get("/calls.csv")
def export(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    where = call_filter(request.query_params, request.app.state.console_zone)
    rows: Iterator[list[Any]] = (_row(c) for c in services.reports.export(member.project, where))
    return StreamingResponse(
        csv_rows(_HEADER, rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="calls.csv"'},
    )


@router.get("/calls/{call_id}")
def call(call_id: str, request: Request, member: MemberDep, services: ServicesDep) -> Response:
    with found():
        detail = services.reports.call(member.project, call_id)
    return page(request, "call.html", member, "calls", detail=detail, call=detail.call)
