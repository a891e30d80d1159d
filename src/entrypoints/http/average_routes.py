"""Averages: GET /results/average and GET /results/average/{start_time}/{end_time}."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

from src.application.average_results import AverageOverAllResults, AverageOverWindow
from src.entrypoints.http.access import Access
from src.entrypoints.http.parameters import PathEnd, PathStart, closed_window
from src.entrypoints.http.presenters import average_response
from src.entrypoints.http.problems import READ_PROBLEMS, documented_problems
from src.entrypoints.http.schemas import AverageBody

_WINDOW_PARAMETERS = ("start_time", "end_time")


def add_average_routes(
    app: FastAPI,
    *,
    access: Access,
    average_over_all: AverageOverAllResults,
    average_over_window: AverageOverWindow,
) -> None:
    """Routes bound to their use cases when the app is built.

    The use cases are injected once, by the composition root, instead of being resolved per request
    through FastAPI dependencies or module-level wiring: nothing is shared between two apps in one
    process, and a request pays for no dependency resolution. They go straight on the app, because
    an included APIRouter adds a second round of route matching to every request (see app.py).
    """

    @app.get(
        "/results/average",
        tags=["averages"],
        response_model=AverageBody,
        summary="Average performance over all results",
        responses=documented_problems(*READ_PROBLEMS),
        dependencies=access.readers(),
    )
    async def average_over_all_results() -> Response:
        return average_response(await average_over_all())

    @app.get(
        "/results/average/{start_time}/{end_time}",
        tags=["averages"],
        response_model=AverageBody,
        summary="Average performance over a time window",
        description="Results whose timestamp lies in [start_time, end_time], both bounds included. "
        "An empty window answers count 0 and null averages.",
        responses=documented_problems(*READ_PROBLEMS, 422),
        dependencies=access.readers(),
    )
    async def average_over_a_window(start_time: PathStart, end_time: PathEnd) -> Response:
        return average_response(await average_over_window(closed_window(start_time, end_time, _WINDOW_PARAMETERS)))
