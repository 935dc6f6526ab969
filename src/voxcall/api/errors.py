"""The one place where failures become the API's error envelope (api.md §1, §7)."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from voxcall.api.limits import BodyTooLarge
from voxcall.calls import errors as refused
from voxcall.store.database import StoreUnavailable
from voxcall.store.files import DiskUnavailable

log = logging.getLogger("voxcall.api")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


_REFUSALS: dict[type[refused.RequestRefused], tuple[int, str]] = {
    refused.InvalidPhoneNumberError: (400, "InvalidPhoneNumber"),
    refused.DoNotCall: (400, "DoNotCall"),
    refused.InvalidServer: (400, "InvalidServer"),
    refused.InvalidVoice: (400, "InvalidVoice"),
    refused.InvalidFile: (400, "InvalidFile"),
    refused.FileTooLarge: (413, "RequestTooLarge"),
    refused.OverStorageQuota: (413, "StorageQuotaExceeded"),
    refused.InsufficientBalance: (402, "InsufficientBalance"),
    refused.InvalidText: (400, "InvalidRequest"),
    refused.SpeechUnavailable: (503, "Unavailable"),
    refused.NotFound: (404, "NotFound"),
    refused.InvalidList: (400, "InvalidRequest"),
    refused.InvalidName: (400, "InvalidRequest"),
    refused.VoiceInUse: (409, "VoiceInUse"),
}

_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

_HTTP_CODES = {
    400: "InvalidRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestTooLarge",
}


def envelope(
    status: int, code: str, message: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, object] = {"result": None, "error": code}
    if message:
        body["message"] = message
    return JSONResponse(body, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path"))
    text = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "missing":
        text = "required"
    return f"{field or 'body'}: {text[:1].lower()}{text[1:]}"


def client_error_response(exc: Exception) -> JSONResponse | None:
    """The envelope for a refusal of the client's request; None for anything else."""
    if isinstance(exc, ApiError) and exc.status < 500:
        return envelope(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, refused.RequestRefused):
        status, code = _REFUSALS[type(exc)]
        return envelope(status, code, exc.message) if status < 500 else None
    if isinstance(exc, RequestValidationError):
        return envelope(400, "InvalidRequest", validation_message(exc))
    return None


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path. Starlette's own 405 names only the first
    route that matched the path (GET on /file/voice/{id}, not DELETE too). Each method is
    tried against the routes, since FastAPI nests included routers out of reach."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    @app.exception_handler(refused.RequestRefused)
    @app.exception_handler(RequestValidationError)
    async def _client_error(_: Request, exc: Exception) -> JSONResponse:
        response = client_error_response(exc)
        if response is not None:
            return response
        if isinstance(exc, refused.RequestRefused):  # refused for a reason of ours (5xx)
            status, code = _REFUSALS[type(exc)]
            return envelope(status, code, exc.message)
        assert isinstance(exc, ApiError)
        return envelope(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "InvalidRequest")
        message = {
            404: f"path: no endpoint {request.url.path}",
            405: f"method: {request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return envelope(exc.status_code, code, message, headers)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return envelope(413, "RequestTooLarge", f"body: larger than {exc.limit} bytes")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _: ClientDisconnect) -> JSONResponse:
        # Nobody is left to read this answer; nothing was accepted. Not a bug: no traceback.
        log.info("client went away during %s %s", request.method, request.url.path)
        return envelope(400, "InvalidRequest", "body: the client disconnected")

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("store unavailable: %s", exc)
        return envelope(503, "Unavailable", "the store is unreachable; nothing was accepted")

    @app.exception_handler(DiskUnavailable)
    async def _disk(_: Request, exc: DiskUnavailable) -> JSONResponse:
        log.error("data folder unavailable: %s", exc)
        return envelope(
            503, "Unavailable", "the data folder cannot be written; nothing was accepted"
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        correlation = uuid.uuid4().hex[:12]
        log.error(
            "internal error %s on %s %s",
            correlation,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return envelope(500, "InternalError", f"internal error, correlation id {correlation}")
