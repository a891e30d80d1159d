"""The averages API: GET /results/average and GET /results/average/{start_time}/{end_time}."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import FastAPI, Path
from fastapi.responses import Response

from src.application.average_results import AverageOverAllResults, AverageOverWindow
from src.domain.result_aggregate import AverageSummary
from src.domain.time_window import TimeWindow
from src.entrypoints.http.access import Access
from src.entrypoints.http.problems import READ_PROBLEMS, documented_problems
from src.entrypoints.http.schemas import AverageBody

_BOUND_FORMS = (
    "ISO 8601 date-time with optional fraction and `Z` or ±HH:MM offset (send `+` raw or as `%2B`); "
    "without an offset it means UTC."
)


def _window_bound(role: str, date_alone: str, utc: str, offset: str, day: str) -> Any:
    return Path(
        description=f"{role} of the window, included. {_BOUND_FORMS} A date alone (YYYY-MM-DD) means {date_alone}.",
        openapi_examples={"UTC": {"value": utc}, "offset": {"value": offset}, "day": {"value": day}},
    )


_START = _window_bound(
    "Start", "the start of that day", "2024-06-01T12:00:00Z", "2024-06-01T14:00:00+02:00", "2024-06-01"
)
_END = _window_bound(
    "End", "the whole of that day", "2024-06-01T13:00:00.500Z", "2024-06-01T15:00:00+02:00", "2024-06-02"
)
WindowStart = Annotated[str, _START]
WindowEnd = Annotated[str, _END]


def add_average_routes(
    app: FastAPI,
    average_over_all: AverageOverAllResults,
    average_over_window: AverageOverWindow,
    *,
    access: Access,
) -> None:
    """Routes bound to their use cases when the app is built.

    The use cases are injected once, by the composition root, instead of being resolved per request
    through FastAPI dependencies or module-level wiring: nothing is shared between two apps in one
    process, and a request pays for no dependency resolution. They go straight on the app, because
    an included APIRouter adds a second round of route matching to every request.
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
        return _response(await average_over_all())

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
    async def average_over_a_window(start_time: WindowStart, end_time: WindowEnd) -> Response:
        return _response(await average_over_window(TimeWindow.parse(start_time, end_time)))


def _response(summary: AverageSummary) -> Response:
    # Encoded directly rather than through an AverageBody instance: FastAPI would validate and
    # serialize that model again on every request. AverageBody stays the documented schema, and
    # the HTTP tests and the schemathesis run hold the two together.
    return Response(
        msgspec.json.encode(
            {
                "average_token_count": summary.average_token_count,
                "average_time_to_first_token": summary.average_time_to_first_token,
                "average_time_per_output_token": summary.average_time_per_output_token,
                "average_total_generation_time": summary.average_total_generation_time,
                "count": summary.count,
                "failed": summary.failed,
            }
        ),
        media_type="application/json",
    )
