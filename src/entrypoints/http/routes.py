"""The averages API: GET /results/average and GET /results/average/{start_time}/{end_time}."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from src.application.average_results import AverageOverAllResults, AverageOverWindow
from src.domain.result_aggregate import AverageSummary
from src.domain.time_window import TimeWindow
from src.entrypoints.http.problems import PROBLEM_MEDIA_TYPE
from src.entrypoints.http.schemas import AverageBody, ProblemBody

router = APIRouter(prefix="/results", tags=["averages"])


# The container lives on the app, not in module-level wiring: wiring binds a module to the last
# container built, and two apps in one process (tests, a contract suite) must not share one.
def _average_over_all(request: Request) -> AverageOverAllResults:
    use_case: AverageOverAllResults = request.app.state.container.average_over_all()
    return use_case


def _average_over_window(request: Request) -> AverageOverWindow:
    use_case: AverageOverWindow = request.app.state.container.average_over_window()
    return use_case


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        422: "A bound is not an ISO 8601 date-time, names an impossible date or time, "
        "or the window ends before it starts.",
        503: "The production store is not configured (SUPERBENCHMARK_DEBUG is false).",
    }
    return {
        status: {
            "description": descriptions[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemBody.model_json_schema()}},
        }
        for status in statuses
    }


_BOUND_FORMS = (
    "ISO 8601 date-time with optional fraction and `Z` or ±HH:MM offset (send `+` raw or as `%2B`); "
    "without an offset it means UTC."
)


@router.get(
    "/average",
    response_model=AverageBody,
    summary="Average performance over all results",
    responses=_problems(503),
)
def average_over_all(use_case: Annotated[AverageOverAllResults, Depends(_average_over_all)]) -> AverageBody:
    return _body(use_case())


@router.get(
    "/average/{start_time}/{end_time}",
    response_model=AverageBody,
    summary="Average performance over a time window",
    description="Results whose timestamp lies in [start_time, end_time], both bounds included. "
    "An empty window answers count 0 and null averages.",
    responses=_problems(422, 503),
)
def average_over_window(
    use_case: Annotated[AverageOverWindow, Depends(_average_over_window)],
    start_time: Annotated[
        str,
        Path(
            description=f"Start of the window, included. {_BOUND_FORMS} "
            "A date alone (YYYY-MM-DD) means the start of that day.",
            openapi_examples={
                "UTC": {"value": "2024-06-01T12:00:00Z"},
                "offset": {"value": "2024-06-01T14:00:00+02:00"},
                "day": {"summary": "from the start of June 1st", "value": "2024-06-01"},
            },
        ),
    ],
    end_time: Annotated[
        str,
        Path(
            description=f"End of the window, included. {_BOUND_FORMS} "
            "A date alone (YYYY-MM-DD) means the whole of that day.",
            openapi_examples={
                "UTC": {"value": "2024-06-01T13:00:00.500Z"},
                "offset": {"value": "2024-06-01T15:00:00+02:00"},
                "day": {"summary": "to the end of June 2nd", "value": "2024-06-02"},
            },
        ),
    ],
) -> AverageBody:
    return _body(use_case(TimeWindow.parse(start_time, end_time)))


def _body(summary: AverageSummary) -> AverageBody:
    return AverageBody(**asdict(summary))
