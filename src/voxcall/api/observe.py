"""Every HTTP answer counted and timed for the metrics, by route template (not by path, whose
ids would make a series per call)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcall.metrics import Metrics

UNMATCHED = "unmatched"  # a path no route serves (404), or refused before routing (413)


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it answers

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            route = scope.get("route")  # set on this scope by the router that matched
            self.metrics.http_answered(
                scope["method"],
                getattr(route, "path", UNMATCHED),
                status,
                time.perf_counter() - started,
            )
