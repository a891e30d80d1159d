"""Runs: GET /runs lists them newest first, DELETE /runs/{run} removes one."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from src.application.ports.result_store import MAX_PAGE_SIZE, RunQuery
from src.application.runs import DeleteRun, ListRuns
from src.domain.result_selection import ResultFilter
from src.domain.runs import RunKey
from src.entrypoints.http.access import Access
from src.entrypoints.http.cursors import decode_cursor
from src.entrypoints.http.parameters import Labels, Model, labels
from src.entrypoints.http.presenters import json_response, runs_page_response
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
        model: Model = None,
        label: Labels = [],  # noqa: B006 - FastAPI copies defaults; a list is how it declares a repeatable parameter
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Runs per page.")] = 100,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    ) -> Response:
        after = None if cursor is None else RunKey(*decode_cursor(cursor))
        query = RunQuery(ResultFilter(model=model, labels=labels(label)), limit, after)
        return runs_page_response(await run_in_threadpool(list_runs, query))

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
        return json_response({"run": run, "deleted": removed})
