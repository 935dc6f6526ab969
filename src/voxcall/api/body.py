"""Reading a JSON or multipart body, with api.md's error rules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from voxcall.api.errors import ApiError
from voxcall.api.limits import BodyTooLarge

M = TypeVar("M", bound=BaseModel)


def is_multipart(request: Request) -> bool:
    """Whether the body is a form with a file rather than JSON."""
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def read_json(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise ApiError(400, "InvalidRequest", "body: malformed JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidRequest", "body: must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


@asynccontextmanager
async def multipart_file(
    request: Request, *, max_fields: int
) -> AsyncIterator[tuple[FormData, UploadFile]]:
    """The form of a multipart body and its one `file` part, spooled to a temporary file as
    it arrives (starlette) and closed on leaving. A malformed body or a missing file is 400;
    the upload limit stays a 413."""
    try:
        form = await request.form(max_files=1, max_fields=max_fields, max_part_size=64 * 1024)
    except BodyTooLarge:
        raise
    except Exception as exc:  # python-multipart's own errors on a broken body
        raise ApiError(400, "InvalidRequest", f"body: malformed multipart ({exc})") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "InvalidRequest", "file: required")
        yield form, upload
    finally:
        await form.close()
