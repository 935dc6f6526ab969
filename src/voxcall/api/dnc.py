"""The project's do-not-call list (api.md §9, ext)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from voxcall.api.body import is_multipart, multipart_file, read_json
from voxcall.api.calls import ProjectDep, ok
from voxcall.api.deps import ServicesDep
from voxcall.api.idempotency import respond_once
from voxcall.api.openapi import operation
from voxcall.api.query import refuse_unknown_query
from voxcall.calls.dnc_lists import DncAdded, DncEntry
from voxcall.calls.lists import BinaryReadable

router = APIRouter(prefix="/api/v2/dnc", tags=["dnc"])

MAX_NUMBERS = 10_000


class DncNumbers(BaseModel):
    """`POST /dnc`: the numbers to list, in any written form."""

    model_config = ConfigDict(extra="ignore")

    phoneNumbers: Annotated[list[str], Field(min_length=1, max_length=MAX_NUMBERS)]


class DncAddedObject(BaseModel):
    added: int
    alreadyListed: int
    invalid: int


class DncEntryObject(BaseModel):
    phoneNumber: str
    listed: bool
    addedAt: int | None


def added_json(added: DncAdded) -> dict[str, Any]:
    return {
        "added": added.added,
        "alreadyListed": added.already_listed,
        "invalid": added.invalid,
    }


def entry_json(entry: DncEntry) -> dict[str, Any]:
    return {"phoneNumber": entry.phone_number, "listed": entry.listed, "addedAt": entry.added_at}


@router.post("", **operation(DncAddedObject, body=DncNumbers, post=True))
async def add(request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    """JSON with `phoneNumbers`, or multipart with a list `file` (CSV or text, as a
    campaign's). An Idempotency-Key applies to JSON; a file is read as it streams."""
    if is_multipart(request):
        async with multipart_file(request, max_fields=5) as (_, upload):
            stream: BinaryReadable = upload.file
            added = await run_in_threadpool(services.calls.dnc.add_file, project, stream)
        return JSONResponse(ok(added_json(added)))

    async def work(_: str | None) -> dict[str, Any]:
        body = await read_json(request, DncNumbers)
        added = await run_in_threadpool(services.calls.dnc.add, project, body.phoneNumbers)
        return ok(added_json(added))

    return await respond_once(request, services.store, project, work)


@router.get(
    "", **operation(DncEntryObject | list[DncEntryObject], "InvalidRequest", "InvalidPhoneNumber")
)
async def read(
    request: Request,
    services: ServicesDep,
    project: ProjectDep,
    phoneNumber: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: str | None = None,
) -> dict[str, Any]:
    """One number's entry (`phoneNumber`), or a page of the list after the number `after`."""
    refuse_unknown_query(request, "phoneNumber", "limit", "after")
    dnc = services.calls.dnc
    if phoneNumber is not None:
        return ok(entry_json(await run_in_threadpool(dnc.lookup, project, phoneNumber)))
    page = await run_in_threadpool(lambda: dnc.page(project, after=after, limit=limit))
    return ok([entry_json(e) for e in page])


@router.delete("/{phone_number}", **operation(None, "InvalidPhoneNumber", "NotFound"))
async def remove(phone_number: str, services: ServicesDep, project: ProjectDep) -> dict[str, Any]:
    await run_in_threadpool(services.calls.dnc.remove, project, phone_number)
    return ok(None)
