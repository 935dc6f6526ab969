"""Request body limits, enforced while the body streams in (api.md §1: 413)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_LIMIT = 1024 * 1024
UPLOAD_LIMIT = 10 * 1024 * 1024 + 64 * 1024  # the file limit plus multipart framing
UPLOAD_PATH = "/api/v2/file/voice"
# the console's upload forms: a voice file, a do-not-call list; the same limit
CONSOLE_UPLOAD_PATHS = ("/voices", "/dnc/upload", "/operator/dnc/upload")
# a campaign's list (api.md §8) and a do-not-call list (§9, "as in §8"), multipart; the
# console's new campaign form has the same limit
LIST_LIMIT = 50 * 1024 * 1024 + 64 * 1024
LIST_PATHS = ("/api/v2/campaign", "/api/v2/dnc", "/campaigns")


def _too_large(limit: int) -> bytes:
    return json.dumps(
        {
            "result": None,
            "error": "RequestTooLarge",
            "message": f"body: larger than {limit} bytes",
        }
    ).encode()


class BodyLimit:
    """Refuse a body over its limit: at once by Content-Length, else as soon as it passes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _limit(scope)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(send, limit)
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_413(send, limit)


def _limit(scope: Scope) -> int:
    if scope["path"] == UPLOAD_PATH or scope["path"] in CONSOLE_UPLOAD_PATHS:
        return UPLOAD_LIMIT
    if scope["path"] in LIST_PATHS:
        for name, value in scope["headers"]:
            if name == b"content-type" and value.startswith(b"multipart/form-data"):
                return LIST_LIMIT
    return JSON_LIMIT


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


async def _send_413(send: Send, limit: int) -> None:
    body = _too_large(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
