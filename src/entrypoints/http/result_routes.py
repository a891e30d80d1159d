"""Results one by one: store (POST /results), read (GET /results/{request_id}, GET /results)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from src.application.ports.result_store import MAX_PAGE_SIZE, PageKey, ResultQuery
from src.application.read_results import GetResult, ListResults
from src.application.store_results import MAX_BATCH_SIZE, StoreResults
from src.domain.errors import InvalidResult, InvalidResults
from src.entrypoints.http.access import Access
from src.entrypoints.http.csv_export import CSV_RESPONSE
from src.entrypoints.http.cursors import decode_cursor
from src.entrypoints.http.json_body import decode_json
from src.entrypoints.http.parameters import End, Labels, Model, Start, labels, window
from src.entrypoints.http.presenters import json_response, result_body, results_page_response
from src.entrypoints.http.problems import READ_PROBLEMS, HttpProblem, documented_problems
from src.entrypoints.http.schemas import ResultBody, ResultIn, ResultPageBody, StoredBody


def add_result_routes(
    app: FastAPI,
    *,
    access: Access,
    store_results: StoreResults,
    get_result: GetResult,
    list_results: ListResults,
    max_body_bytes: int,
) -> None:
    @app.post(
        "/results",
        tags=["results"],
        summary="Store one result or an array of up to 10,000, all or nothing",
        response_model=StoredBody,
        status_code=HTTPStatus.CREATED,
        responses={
            200: {"description": "Every result was already stored; nothing changed.", "model": StoredBody},
            **documented_problems(401, 403, 405, 409, 413, 422, 503),
        },
        dependencies=access.writers(),
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _batch_schema()}}}},
    )
    async def store(request: Request) -> Response:
        document = _decoded(await _body(request, max_body_bytes))
        records = document if isinstance(document, list) else [document]
        outcome = await run_in_threadpool(store_results, records)
        # 201 when something new was stored; 200 when every result was already there.
        status = HTTPStatus.CREATED if outcome.stored else HTTPStatus.OK
        return json_response({"stored": outcome.stored, "already_stored": outcome.already_stored}, status)

    @app.get(
        "/results/{request_id}",
        tags=["results"],
        summary="One result by its request_id",
        response_model=ResultBody,
        responses=documented_problems(*READ_PROBLEMS, 404),
        dependencies=access.readers(),
    )
    async def one_result(request_id: str) -> Response:
        return json_response(result_body(await run_in_threadpool(get_result, request_id)))

    @app.get(
        "/results",
        tags=["results"],
        summary="Results in (timestamp, request_id) order, a page at a time",
        response_model=ResultPageBody,
        responses={
            200: {"content": CSV_RESPONSE, "description": "As CSV, the next page is linked in the Link header."},
            **documented_problems(*READ_PROBLEMS, 422),
        },
        dependencies=access.readers(),
    )
    async def result_pages(
        request: Request,
        *,
        start: Start = None,
        end: End = None,
        model: Model = None,
        label: Labels = [],  # noqa: B006 - FastAPI copies defaults; a list is how it declares a repeatable parameter
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Results per page.")] = 100,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    ) -> Response:
        selected = window(start, end)
        after = None if cursor is None else PageKey(*decode_cursor(cursor))
        page = await run_in_threadpool(list_results, ResultQuery(selected, model, limit, after, labels(label)))
        return results_page_response(request, page)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, what: str = "body") -> HttpProblem:
    return HttpProblem(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        f"the {what} exceeds {limit} bytes (SUPERBENCHMARK_MAX_BODY_BYTES); "
        "send large loads to POST /results/import, one result per line",
    )


def _decoded(body: bytes) -> object:
    try:
        document = decode_json(body)
    except ValueError as error:
        raise InvalidResults([InvalidResult(None, f"the body is not valid JSON: {error}")]) from None
    if not isinstance(document, (dict, list)):
        raise InvalidResults([InvalidResult(None, "the body must be a result object or an array of them")])
    return document


def _batch_schema() -> dict[str, Any]:
    single = ResultIn.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"oneOf": [single, {"type": "array", "items": single, "maxItems": MAX_BATCH_SIZE}]}
