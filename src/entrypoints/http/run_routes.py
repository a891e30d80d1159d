"""Runs: GET /runs lists them newest first, DELETE /runs/{run} removes one."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import FastAPI, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from src.application.ports.result_store import MAX_PAGE_SIZE, RunQuery
from src.application.runs import DeleteRun, ListRuns
from src.domain.result_selection import ResultFilter, parse_labels
from src.domain.runs import RunKey, RunSummary
from src.entrypoints.http.access import Access
from src.entrypoints.http.cursors import decode_cursor, encode_cursor, iso_utc
from src.entrypoints.http.problems import READ_PROBLEMS, documented_problems
from src.entrypoints.http.schemas import DeletedRunBody, RunPageBody


def add_run_routes(app: FastAPI, *, access: Access, list_runs: ListRuns, delete_run: DeleteRun) -> None:
    @app.get(
        "/runs",
        tags=["runs"],
        summary="Runs, newest first, a page at a time",
        description="A run is the results that carry one value of the `run` label (importers set it).",
        response_model=RunPageBody,
        responses=documented_problems(*READ_PROBLEMS, 422),
        dependencies=access.readers(),
    )
    async def runs(
        *,
        model: Annotated[str | None, Query(description="Only results of this model.")] = None,
        label: Annotated[list[str], Query(description="key:value, repeatable; results must carry each.")] = [],  # noqa: B006 - FastAPI's form of a repeatable parameter
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Runs per page.")] = 100,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    ) -> Response:
        after = None if cursor is None else RunKey(*decode_cursor(cursor))
        query = RunQuery(ResultFilter(model=model, labels=parse_labels(label)), limit, after)
        page = await run_in_threadpool(list_runs, query)
        body = {
            "runs": [run_body(summary) for summary in page.runs],
            "next_cursor": None if page.next is None else encode_cursor(page.next.last, page.next.run),
        }
        return Response(msgspec.json.encode(body), media_type="application/json")

    @app.delete(
        "/runs/{run:path}",
        tags=["runs"],
        summary="Remove a run's results, rollups included",
        response_model=DeletedRunBody,
        responses=documented_problems(401, 403, 404, 405, 503),
        dependencies=access.writers(),
    )
    async def remove(run: str) -> Response:
        removed = await run_in_threadpool(delete_run, run)
        return Response(msgspec.json.encode({"run": run, "deleted": removed}), media_type="application/json")


def run_body(summary: RunSummary) -> dict[str, Any]:
    return {
        "run": summary.run,
        "tool": summary.tool,
        "model": summary.model,
        "count": summary.count,
        "failed": summary.failed,
        "first": iso_utc(summary.first),
        "last": iso_utc(summary.last),
        "labels": dict(summary.labels),
    }
