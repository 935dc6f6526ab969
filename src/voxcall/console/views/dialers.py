"""The operator's Dialers (each with its channels in use, pace, answer rate of the last hour
and last error, live; add, edit, enable or disable) and System (the queue by class, workers
and their heartbeats, the webhook backlog, the database, the version; the public holidays,
added and removed)."""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from voxcall.api.deps import ServicesDep
from voxcall.billing.money import parse_toman
from voxcall.calls.dialers import DIALER_ID, DialerChanges, new_dialer
from voxcall.calls.errors import AdminRefused
from voxcall.console.auth import OperatorDep, Viewer, checked_form
from voxcall.console.views.projects import operator_page
from voxcall.console.web import PageNotFound, render
from voxcall.dialers.registry import DRIVERS
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.money import Tariff

router = APIRouter(include_in_schema=False)
SIP_FIELDS = ("trunk", "username", "password", "caller_id", "from_domain", "codecs")


def _dialers_page(
    request: Request, viewer: Viewer, services: ServicesDep, error: str | None = None
) -> Response:
    return operator_page(
        request, "operator_dialers.html", viewer, "dialers",
        seen=services.operations.dialers(time.time()), drivers=DRIVERS,
        sip_fields=SIP_FIELDS, error=error,
    )  # fmt: skip


@router.get("/operator/dialers")
def dialers(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    return _dialers_page(request, viewer, services)


@router.get("/operator/dialers/live")
def dialers_live(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    """The dialers' table alone, which the page polls."""
    return render(request, "_dialers.html", {"seen": services.operations.dialers(time.time())})


def _number(fields: dict[str, str], key: str, low: float, high: float) -> float | None:
    text = fields.get(key, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise AdminRefused(f"{key}: a number from {low:g} to {high:g}")
    return value


def _whole(fields: dict[str, str], key: str, low: int, high: int) -> int | None:
    value = _number(fields, key, low, high)
    if value is not None and value != int(value):
        raise AdminRefused(f"{key}: a whole number")
    return None if value is None else int(value)


def _amount(fields: dict[str, str], key: str) -> int | None:
    text = fields.get(key, "").strip()
    try:
        return parse_toman(text) if text else None
    except ValueError:
        raise AdminRefused(f"{key}: Toman, as in 600 or 34.2") from None


def _new(fields: dict[str, str]) -> DialerConfig:
    dialer_id = fields.get("id", "").strip()
    driver = fields.get("driver", "")
    if not DIALER_ID.fullmatch(dialer_id):
        raise AdminRefused("id: lower-case letters, digits, - and _ (up to 32)")
    if driver not in DRIVERS:
        raise AdminRefused(f"driver: one of {', '.join(DRIVERS)}")
    options: dict[str, object] = {}
    if driver == "sip":
        options = {k: fields[k].strip() for k in SIP_FIELDS if fields.get(k, "").strip()}
    return new_dialer(
        dialer_id,
        driver,
        fields.get("name", "").strip() or dialer_id,
        options,
        channels=_whole(fields, "channels", 1, 100_000) or 10,
        cps=_number(fields, "cps", 0.01, 10_000) or 10.0,
        tariff=Tariff(
            price_per_minute=_amount(fields, "price_per_minute") or 0,
            billing_increment=_whole(fields, "billing_increment", 1, 3600) or 60,
            connect_fee=_amount(fields, "connect_fee") or 0,
        ),
    )


@router.post("/operator/dialers")
async def add(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    form = await checked_form(request, viewer.csrf)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        dialer = await run_in_threadpool(lambda: services.dialers.add(_new(fields)))
    except AdminRefused as exc:
        return await run_in_threadpool(_dialers_page, request, viewer, services, str(exc))
    return RedirectResponse(f"/operator/dialers/{dialer.id}?done=saved", status_code=303)


def _dialer(services: ServicesDep, dialer_id: str) -> DialerConfig:
    try:
        return services.dialers.get(dialer_id)
    except AdminRefused:
        raise PageNotFound from None


def _dialer_page(
    request: Request,
    viewer: Viewer,
    services: ServicesDep,
    dialer_id: str,
    error: str | None = None,
) -> Response:
    dialer = _dialer(services, dialer_id)
    shown = {k: v for k, v in dialer.options.items() if k != "password"}  # never the password
    return operator_page(
        request, "operator_dialer.html", viewer, "dialers",
        dialer=dialer, options=json.dumps(shown, indent=1), error=error,
    )  # fmt: skip


@router.get("/operator/dialers/{dialer_id}")
def dialer_page(
    dialer_id: str, request: Request, viewer: OperatorDep, services: ServicesDep
) -> Response:
    return _dialer_page(request, viewer, services, dialer_id)


def _changes(fields: dict[str, str]) -> DialerChanges:
    return DialerChanges(
        name=fields.get("name", "").strip() or None,
        channels=_whole(fields, "channels", 1, 100_000),
        cps=_number(fields, "cps", 0.01, 10_000),
        retry_interval=_whole(fields, "retry_interval", 1, 86400),
        ring_timeout=_whole(fields, "ring_timeout", 1, 600),
        make_default=fields.get("make_default") == "on",
        price_per_minute=_amount(fields, "price_per_minute"),
        billing_increment=_whole(fields, "billing_increment", 1, 3600),
        connect_fee=_amount(fields, "connect_fee"),
    )


@router.post("/operator/dialers/{dialer_id}")
async def edit(
    dialer_id: str, request: Request, viewer: OperatorDep, services: ServicesDep
) -> Response:
    form = await checked_form(request, viewer.csrf)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    current = await run_in_threadpool(_dialer, services, dialer_id)
    try:
        await run_in_threadpool(lambda: services.dialers.update(current, _changes(fields)))
    except AdminRefused as exc:
        return await run_in_threadpool(_dialer_page, request, viewer, services, dialer_id, str(exc))
    return RedirectResponse(f"/operator/dialers/{dialer_id}?done=saved", status_code=303)


@router.post("/operator/dialers/{dialer_id}/enabled")
async def enable(
    dialer_id: str, request: Request, viewer: OperatorDep, services: ServicesDep
) -> Response:
    form = await checked_form(request, viewer.csrf)
    current = await run_in_threadpool(_dialer, services, dialer_id)
    enabled = form.get("enabled") == "1"
    await run_in_threadpool(services.dialers.set_enabled, current.id, enabled)
    return RedirectResponse(f"/operator/dialers/{dialer_id}?done=saved", status_code=303)


def _system_page(
    request: Request, viewer: Viewer, services: ServicesDep, error: str | None = None
) -> Response:
    return operator_page(
        request, "operator_system.html", viewer, "system",
        seen=services.operations.system(), now=time.time(),
        holidays=services.holidays.list(), error=error,
    )  # fmt: skip


@router.get("/operator/system")
def system(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    return _system_page(request, viewer, services)


@router.post("/operator/holidays/{action}")
async def holiday(
    action: str, request: Request, viewer: OperatorDep, services: ServicesDep
) -> Response:
    """Add a public holiday, or remove one (a date as the date field sends it, ISO)."""
    form = await checked_form(request, viewer.csrf)
    change = {"add": services.holidays.add, "remove": services.holidays.remove}.get(action)
    if change is None:
        raise PageNotFound
    try:
        await run_in_threadpool(change, str(form.get("day", "")))
    except AdminRefused as exc:
        return await run_in_threadpool(_system_page, request, viewer, services, str(exc))
    return RedirectResponse("/operator/system?done=saved", status_code=303)
