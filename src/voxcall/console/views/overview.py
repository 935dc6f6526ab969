"""Overview: today's calls by status, answer rate, billed seconds, spend and balance; calls
per 10 minutes over the last 24 hours; the calls in progress, refreshed live."""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from voxcall.api.deps import ServicesDep
from voxcall.console.auth import MemberDep
from voxcall.console.views import page
from voxcall.console.web import render
from voxcall.domain.calls import CallStatus
from voxcall.domain.reports import BUCKET

router = APIRouter(include_in_schema=False)


@router.get("/overview")
def overview(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    zone = request.app.state.console_zone
    seen = services.reports.overview(member.project, time.time(), zone)
    timeline = seen.timeline
    chart = {
        "start": timeline.start,
        "step": BUCKET,
        "series": {s.name: timeline.counts[s] for s in CallStatus if s in timeline.counts},
    }
    hours = [
        (timeline.start + i * BUCKET, sum(timeline.counts[s][i] for s in timeline.counts))
        for i in range(timeline.buckets)
    ]
    return page(
        request,
        "overview.html",
        member,
        "overview",
        seen=seen,
        statuses=list(CallStatus),
        chart=json.dumps(chart),
        busy_buckets=[(when, n) for when, n in hours if n],
    )


@router.get("/overview/live")
def live(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    """The calls-in-progress table alone, which the overview polls."""
    return render(
        request,
        "_in_progress.html",
        {"calls": services.reports.in_progress(member.project)},
    )
