"""What every request leaves behind: its id (X-Request-ID), one access log line, and its metrics.

An ASGI middleware rather than a FastAPI one: it adds no task or copy of the body per request,
and it sees the answer of every request, a 404 of no route included. The route is named by its
template (`/results/{request_id}`), never by the path, whose query string may carry anything.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.entrypoints.logs import ACCESS_LOGGER, REQUEST_ID, REQUEST_ID_HEADER, new_request_id, sane_request_id
from src.entrypoints.metrics import UNMATCHED_ROUTE, Metrics

access_log = logging.getLogger(ACCESS_LOGGER)
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.lower().encode("latin-1")


def request_id_of(scope: Scope) -> str:
    """The id the middleware gave this request (`-` for a request it never saw)."""
    state = scope.get("state") or {}
    return str(state.get("request_id", REQUEST_ID.get()))


def route_of(scope: Scope) -> str:
    """The template of the route that answered, or UNMATCHED_ROUTE."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestTelemetry:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == _REQUEST_ID_HEADER), None)
        request_id = sane_request_id(given.decode("latin-1") if given is not None else None) or new_request_id()
        # The problem handlers read it from here: the one for 500s runs outside this middleware.
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        # A request whose app raised before answering is answered 500 by Starlette, outside.
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method, route = scope["method"], route_of(scope)
            self.metrics.observe_request(method, route, status, seconds)
            access_log.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                seconds * 1000,
                extra={"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 3)},
            )
            REQUEST_ID.reset(token)
