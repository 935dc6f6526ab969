"""Billing: balance, reserved, available; the ledger with its running balance; its CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from voxcall.api.deps import ServicesDep
from voxcall.billing.money import toman
from voxcall.console.auth import MemberDep
from voxcall.console.views import csv_rows, page

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/billing")
def billing(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    before = request.query_params.get("before", "")
    ledger = services.reports.ledger(member.project, int(before) if before.isdigit() else None)
    return page(
        request,
        "billing.html",
        member,
        "billing",
        account=services.accounts.balance(member.project),
        ledger=ledger,
    )


@router.get("/billing.csv")
def export(member: MemberDep, services: ServicesDep) -> Response:
    def rows() -> Iterator[list[Any]]:
        for ledger in services.reports.whole_ledger(member.project):
            for e in ledger.entries:
                yield [
                    dt.datetime.fromtimestamp(e.created_at, dt.UTC).isoformat(),
                    e.kind,
                    toman(e.amount_milli),
                    toman(e.balance_after_milli),
                    e.call_id or "",
                    e.note,
                ]

    return StreamingResponse(
        csv_rows(["date", "kind", "amount", "balance", "callId", "note"], rows()),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="ledger.csv"'},
    )
