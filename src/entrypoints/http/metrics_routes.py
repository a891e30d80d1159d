"""GET /metrics: the Prometheus text format, of every worker process, readable by whoever may read."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from src.entrypoints.http.access import Access
from src.entrypoints.http.problems import documented_problems
from src.entrypoints.metrics import METRICS_MEDIA_TYPE, Metrics


def add_metrics_routes(app: FastAPI, *, access: Access, metrics: Metrics) -> None:
    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Metrics in the Prometheus text format",
        description="Requests by route template and status, their durations, store calls, imports, the "
        "database pool and the build; with several worker processes, summed over all of them. Needs a key "
        "when reads do (SUPERBENCHMARK_READ_REQUIRES_KEY).",
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The metrics."},
            **documented_problems(401, 403),
        },
        response_class=Response,
        dependencies=access.readers(),
    )
    async def prometheus_metrics() -> Response:
        # With several workers this reads a file per process: off the event loop.
        return Response(await run_in_threadpool(metrics.exposition), media_type=METRICS_MEDIA_TYPE)
