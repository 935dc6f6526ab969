"""Reading a JSON or multipart body, with api.md's error rules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

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


class _NotUtf8(MultiPartException):
    pass


class _Utf8Fields(MultiPartParser):
    """starlette's multipart parser, refusing a form field that is not UTF-8 text (starlette
    reads it as Latin-1 instead, keeping mojibake)."""

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            try:
                part.data.decode()
            except UnicodeDecodeError:
                raise _NotUtf8(f"{part.field_name}: not UTF-8 text") from None
        super().on_part_end()


@asynccontextmanager
async def multipart_file(
    request: Request, *, max_fields: int
) -> AsyncIterator[tuple[FormData, UploadFile]]:
    """The form of a multipart body and its one `file` part, spooled to a temporary file as
    it arrives (starlette) and closed on leaving. A malformed body or a missing file is 400;
    the upload limit stays a 413."""
    try:
        async with aclosing(request.stream()) as stream:
            parser = _Utf8Fields(
                request.headers, stream, max_files=1, max_fields=max_fields, max_part_size=64 * 1024
            )
            form = await parser.parse()
    except BodyTooLarge:
        raise
    except _NotUtf8 as exc:
        raise ApiError(400, "InvalidRequest", exc.message) from exc
    except Exception as exc:  # python-multipart's own errors on a broken body
        raise ApiError(400, "InvalidRequest", f"body: malformed multipart ({exc})") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "InvalidRequest", "file: required")
        yield form, upload
    finally:
        await form.close()
