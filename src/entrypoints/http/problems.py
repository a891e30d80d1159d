"""The one place where errors become RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route

from src.domain.errors import (
    DomainError,
    EmptySample,
    InvalidPageCursor,
    InvalidParameter,
    InvalidResult,
    InvalidResults,
    InvalidTimestamp,
    InvalidTimeWindow,
    MissingImportOption,
    ProductionStoreNotConfigured,
    ResultConflict,
    ResultNotFound,
    RunNotFound,
    StoreIsReadOnly,
    StoreUnavailable,
    UnreadableFile,
    WindowTooLarge,
)
from src.entrypoints.http.schemas import ProblemBody
from src.entrypoints.http.telemetry import request_id_of, route_of
from src.entrypoints.logs import REQUEST_ID_HEADER

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:superbenchmark:problem:"

logger = logging.getLogger(__name__)

# Domain error -> (status, problem type, title). Unlisted domain errors are bad input: 422.
_DOMAIN_PROBLEMS: dict[type[Exception], tuple[HTTPStatus, str, str]] = {
    InvalidTimestamp: (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-timestamp", "Invalid timestamp"),
    InvalidTimeWindow: (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-time-window", "Invalid time window"),
    ProductionStoreNotConfigured: (
        HTTPStatus.SERVICE_UNAVAILABLE,
        "not-ready-for-production",
        "Not ready for production",
    ),
    InvalidResults: (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-results", "Invalid results"),
    InvalidPageCursor: (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-cursor", "Invalid cursor"),
    InvalidParameter: (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-parameter", "Invalid parameter"),
    MissingImportOption: (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-parameter", "Invalid parameter"),
    UnreadableFile: (HTTPStatus.UNPROCESSABLE_ENTITY, "unreadable-file", "The file cannot be read as its format"),
    WindowTooLarge: (HTTPStatus.UNPROCESSABLE_ENTITY, "window-too-large", "Window too large for one request"),
    EmptySample: (HTTPStatus.UNPROCESSABLE_ENTITY, "empty-sample", "Nothing to compare"),
    ResultConflict: (HTTPStatus.CONFLICT, "request-id-conflict", "Request id already names another result"),
    ResultNotFound: (HTTPStatus.NOT_FOUND, "result-not-found", "Result not found"),
    RunNotFound: (HTTPStatus.NOT_FOUND, "run-not-found", "Run not found"),
    StoreIsReadOnly: (HTTPStatus.METHOD_NOT_ALLOWED, "read-only-store", "The DEBUG store is read-only"),
    StoreUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "database-unavailable", "Database unavailable"),
}


class HttpProblem(Exception):
    """A refusal that belongs to HTTP itself (access, body size, media type), not to the domain."""

    def __init__(
        self,
        status: HTTPStatus,
        kind: str,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        *,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        """`extensions` are further members of the problem body (RFC 9457, section 3.2)."""
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extensions = extensions
        super().__init__(detail)


_WHEN = {
    401: "No API key, or not one of this server's keys (writes; reads too with SUPERBENCHMARK_READ_REQUIRES_KEY).",
    403: "The server has no API keys (SUPERBENCHMARK_API_KEYS), so it takes no request that needs one.",
    404: "No result has this request_id, or no result is labelled this run.",
    405: "The DEBUG store is read-only.",
    409: "A request_id already names a result with other content; nothing was stored.",
    413: "The body, or a line of an import, exceeds SUPERBENCHMARK_MAX_BODY_BYTES.",
    415: "The import is not sent as application/x-ndjson.",
    422: "Invalid input: a malformed timestamp or window, a reversed window, an invalid result (each one listed), "
    "a bad cursor or limit; for statistics, an unknown metric, bucket or grouping, a malformed label, percentiles "
    "outside (0, 100) (`parameter` names the one at fault), a window holding more results than "
    "SUPERBENCHMARK_MAX_STATISTICS_RESULTS, or a comparison side without results.",
    503: "No production database is configured, or the database is unavailable; retry later.",
}
# Every read can be refused for access or for an unavailable store.
READ_PROBLEMS = (401, 403, 503)


def documented_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these problem statuses, all application/problem+json."""
    return {
        status: {
            "description": _WHEN[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemBody.model_json_schema()}},
        }
        for status in statuses
    }


def rejection(error: InvalidResult, place: str) -> dict[str, object]:
    """One refused result as clients read it; `place` names its position: an index or a line."""
    return {
        place: error.index,
        "request_id": error.request_id if isinstance(error.request_id, str) else None,
        "field": error.field,
        "reason": error.reason,
    }


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    request: Request,
    status: HTTPStatus,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, object] | None = None,
) -> ProblemResponse:
    request_id = request_id_of(request.scope)
    body: dict[str, object] = {
        # "about:blank" means the status code says it all, and the title is its phrase.
        "type": _TYPE_PREFIX + kind if kind else "about:blank",
        "title": title or status.phrase,
        "status": status.value,
        "detail": detail,
        "instance": request.url.path,
        # What a client quotes when it reports the problem: the id of the server's log lines.
        "request_id": request_id,
        **(extensions or {}),
    }
    # Set here too, not only by the telemetry middleware: a 500 is answered outside it.
    headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    return ProblemResponse(body, status_code=status.value, headers=headers)


async def _domain_error(request: Request, error: Exception) -> ProblemResponse:
    status, kind, title = next(
        (entry for cause, entry in _DOMAIN_PROBLEMS.items() if isinstance(error, cause)),
        (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input"),
    )
    extensions: dict[str, object] = {}
    if isinstance(error, InvalidResults):
        extensions["errors"] = [rejection(item, "index") for item in error.errors]
    if isinstance(error, ResultConflict):
        extensions["request_ids"] = error.request_ids
    if isinstance(error, InvalidParameter | MissingImportOption):
        extensions["parameter"] = error.parameter
    if isinstance(error, InvalidTimeWindow):
        # The end is named, as a reversed window's fault: the detail names both bounds.
        extensions["parameter"] = error.parameters[1]
    if isinstance(error, UnreadableFile):
        extensions["format"] = error.file_format
    if isinstance(error, WindowTooLarge):
        extensions |= {"count": error.count, "limit": error.limit}
    headers = None
    if isinstance(error, StoreIsReadOnly):
        # What a read-only store still allows here: the path's methods that read (none, for a
        # path that only writes, as DELETE /runs/{run}).
        reads = [method for method in _methods_allowed(request) if method in _READ_METHODS]
        headers = {"Allow": ", ".join(reads)}
    return problem(request, status, str(error), kind=kind, title=title, headers=headers, extensions=extensions)


async def _http_problem(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, HttpProblem)
    return problem(
        request,
        error.status,
        error.detail,
        kind=error.kind,
        title=error.title,
        headers=error.headers,
        extensions=error.extensions,
    )


async def _http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, HTTPException)
    status = HTTPStatus(error.status_code)
    headers = dict(error.headers or {})
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        # Starlette names the methods of the first route on this path only; list those of all of them.
        headers["Allow"] = ", ".join(_methods_allowed(request))
    allowed = headers.get("Allow", "see /docs")
    detail = {
        HTTPStatus.NOT_FOUND: f"there is no resource at {request.url.path}; see /docs for the endpoints",
        HTTPStatus.METHOD_NOT_ALLOWED: f"{request.method} is not allowed here; allowed: {allowed}",
    }.get(status, str(error.detail))
    return problem(request, status, detail, headers=headers)


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _methods_allowed(request: Request) -> list[str]:
    matching = [
        route
        for route in request.app.router.routes
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE
    ]
    # A fixed path (/results/import) names its own resource, not a value of a template (/results/{request_id}).
    fixed = [route for route in matching if not route.param_convertors]
    return sorted({method for route in fixed or matching for method in route.methods or ()})


async def _request_validation_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    reasons = "; ".join(f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())
    # Named as the domain's own refusals name theirs: the first query or path parameter at fault.
    parameters = [str(item["loc"][1]) for item in error.errors() if len(item["loc"]) > 1 and item["loc"][0] != "body"]
    return problem(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        reasons,
        kind="invalid-request",
        title="Invalid request",
        extensions={"parameter": parameters[0]} if parameters else None,
    )


async def _client_disconnected(request: Request, error: Exception) -> ProblemResponse:
    # The client went away before its body was complete (an upload cancelled): nothing was read
    # whole, so nothing is stored. No one reads this answer; the access line and the metrics say
    # 400 rather than a server failure.
    return problem(
        request,
        HTTPStatus.BAD_REQUEST,
        "the client disconnected before the request's body was complete; nothing was stored",
        kind="client-disconnected",
        title="Client disconnected",
    )


async def _unexpected_error(request: Request, error: Exception) -> ProblemResponse:
    # The cause goes to the log, never to the client. The route's template, not the path: a path
    # is the client's to choose. This handler runs after the request's context has ended, so the
    # record is given the request's id.
    logger.error(
        "unexpected error on %s %s",
        request.method,
        route_of(request.scope),
        exc_info=error,
        extra={"request_id": request_id_of(request.scope)},
    )
    return problem(
        request,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "the server failed to answer this request; the failure has been logged",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(HttpProblem, _http_problem)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(Exception, _unexpected_error)
