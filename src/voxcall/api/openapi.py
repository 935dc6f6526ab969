"""What /openapi.json says of each operation: its body, its result, every error it can answer.

The routes read their bodies themselves (after the token, inside the Idempotency-Key's claim),
so FastAPI cannot see them: `operation` declares each body and its result, and `Api` adds
the body models, the bearer scheme, and drops the 422 that FastAPI assumes and this API never
sends (validation failures are 400 `InvalidRequest`, errors.py).
"""

from __future__ import annotations

import functools
import operator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import models_json_schema

from voxcall.api.schemas import Ok

# Every error code an operation can answer, with its HTTP status (api.md §7); 405
# `MethodNotAllowed` is for a method that no operation has.
STATUS = {
    "InvalidRequest": 400,
    "InvalidPhoneNumber": 400,
    "DoNotCall": 400,
    "InvalidServer": 400,
    "InvalidVoice": 400,
    "InvalidFile": 400,
    "Unauthorized": 401,
    "InsufficientBalance": 402,
    "NotFound": 404,
    "VoiceInUse": 409,
    "IdempotencyConflict": 409,
    "RequestTooLarge": 413,
    "StorageQuotaExceeded": 413,
    "TooManyRequests": 429,
    "InternalError": 500,
    "Unavailable": 503,
}

_DESCRIPTIONS = {
    400: "Refused: the request is malformed or names something that cannot be used",
    401: "The token is missing, unknown or revoked",
    402: "The balance minus open reservations cannot cover the request; nothing was queued",
    404: "No such id in this project",
    409: "Conflict",
    413: "The body (1 MiB of JSON, 10 MiB of file) is over its limit, or the voice would pass "
    "the project's storage quota",
    429: "The project is over its request rate",
    500: "A bug, logged with the correlation id that `message` repeats",
    503: "The store, the data folder or the synthesizer cannot be used; nothing was accepted",
}

BEARER = "bearer"


class Failure(BaseModel):
    """The envelope of every failure (api.md §1)."""

    result: None
    error: str
    message: str = Field(description="names the field and the rule it broke")


@functools.cache
def _failure(code: str) -> type[Failure]:
    """One component per code, so each response lists exactly the codes it can carry."""
    error: Any = (str, Field(json_schema_extra={"const": code}))
    return create_model(code, __base__=Failure, __doc__=f"`{code}` (api.md §7)", error=error)


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A repeat within 24 h answers the first response and places nothing again",
    # Printable ASCII; HTTP drops spaces at either end, so none there.
    "schema": {"type": "string", "maxLength": 128, "pattern": "^[!-~]([ -~]*[!-~])?$"},
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds until a request will be taken again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}

# Request body models, by component name: `Api` adds their schemas.
_bodies: dict[str, type[BaseModel]] = {}


def operation(
    result: Any,
    *codes: str,
    body: type[BaseModel] | None = None,
    media_type: str = "application/json",
    post: bool = False,
    auth: bool = True,
    content: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for a route decorator.

    `result`: the type of the envelope's `result` on 200 (or `content`, for audio); `codes`:
    the errors the operation itself can answer, beside those every operation of its kind can:
    a token's 401 and 429, a POST's Idempotency-Key refusals and 413, anyone's 500 and 503;
    `links`: the operations that take an id from the result (see `links`).
    """
    extra: dict[str, Any] = {}
    every = {"InternalError", "Unavailable", *codes}
    if auth:
        every |= {"Unauthorized", "TooManyRequests"}
        extra["security"] = [{BEARER: []}]
    if post:
        every |= {"InvalidRequest", "IdempotencyConflict", "RequestTooLarge"}
        extra["parameters"] = [_IDEMPOTENCY_KEY]
    if body is not None:
        _bodies[body.__name__] = body
        extra["requestBody"] = {
            "required": True,
            "content": {media_type: {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
        }
    ok: dict[str, Any] = (
        {"description": "Done", "content": content}
        if content is not None
        else {"description": "Done", "model": Ok[result]}
    )
    if links is not None:
        ok["links"] = links
    responses: dict[int | str, dict[str, Any]] = {200: ok}
    for status in sorted({STATUS[code] for code in every}):
        models = [_failure(code) for code in sorted(every) if STATUS[code] == status]
        responses[status] = {
            "description": _DESCRIPTIONS[status],
            "model": functools.reduce(operator.or_, models),
        }
        if status == 429:
            responses[status]["headers"] = _RETRY_AFTER
    kwargs: dict[str, Any] = {
        "response_model": None,
        "responses": responses,
        "openapi_extra": extra,
    }
    if content is not None:
        kwargs["response_class"] = Response  # no media type of its own: only `content`'s
    return kwargs


def links(parameter: str, expression: str, *operations: str) -> dict[str, Any]:
    """OpenAPI links: each of `operations` takes its `parameter` from this result."""
    return {op: {"operationId": op, "parameters": {parameter: expression}} for op in operations}


class Api(FastAPI):
    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = _complete(super().openapi())
        return self.openapi_schema


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for path in document["paths"].values():
        for op in path.values():
            op["responses"].pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _, defs = models_json_schema(
        [(model, "validation") for model in _bodies.values()],
        ref_template="#/components/schemas/{model}",
    )
    schemas.update(defs.get("$defs", {}))
    components["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "a project's token, vx_..."}
    }
    return document
