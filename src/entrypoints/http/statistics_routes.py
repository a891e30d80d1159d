"""Statistics: GET /results/stats, /results/timeseries, /results/compare and /results/histogram.

Each route parses its parameters (parameters.py), calls its use case on a worker thread, and hands
the answer to its presenter (presenters.py); nothing is formatted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from src.application.ports.result_store import SummaryQuery
from src.application.result_statistics import (
    CompareResults,
    DescribeDistribution,
    DescribeResults,
    FollowResultsOverTime,
)
from src.domain.errors import InvalidStatisticsQuery
from src.domain.histogram import DEFAULT_BINS, MAX_BINS, Scale
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.statistics import (
    DEFAULT_PERCENTILES,
    STATISTIC_METRICS,
    ServiceLevelObjective,
    parse_percentiles,
)
from src.domain.time_buckets import AUTO, BUCKET_PATTERN, BUCKET_WIDTHS, Bucketing
from src.domain.time_window import TimeWindow
from src.entrypoints.http import parameters
from src.entrypoints.http.access import Access
from src.entrypoints.http.csv_export import CSV_RESPONSE
from src.entrypoints.http.parameters import (
    LABEL_FORM,
    End,
    GroupBy,
    Labels,
    Model,
    RequiredEnd,
    RequiredStart,
    Start,
)
from src.entrypoints.http.presenters import (
    comparison_response,
    histogram_response,
    stats_response,
    timeseries_response,
)
from src.entrypoints.http.problems import READ_PROBLEMS, documented_problems
from src.entrypoints.http.schemas import CompareBody, HistogramBody, StatsBody, TimeSeriesBody

_MILLISECONDS = Query(ge=0, le=1e12)
_DEFAULT_PERCENTILES = ",".join(f"{q:g}" for q in DEFAULT_PERCENTILES)

Percentiles = Annotated[
    str,
    Query(
        description="Comma-separated, each strictly between 0 and 100.",
        json_schema_extra={"examples": ["50,90,99.9"]},
    ),
]
SloTtft = Annotated[float | None, _MILLISECONDS, Query(description="Goodput SLO: time to first token ≤ this, ms.")]
SloTpot = Annotated[float | None, _MILLISECONDS, Query(description="Goodput SLO: time per output token ≤ this, ms.")]
SloE2e = Annotated[float | None, _MILLISECONDS, Query(description="Goodput SLO: total generation time ≤ this, ms.")]

_STATISTICS_PROBLEMS = documented_problems(*READ_PROBLEMS, 422)
_OK_AS_CSV: dict[int | str, dict[str, Any]] = {200: {"content": CSV_RESPONSE}}


def add_statistics_routes(
    app: FastAPI,
    *,
    access: Access,
    describe_results: DescribeResults,
    follow_results_over_time: FollowResultsOverTime,
    compare_results: CompareResults,
    describe_distribution: DescribeDistribution,
) -> None:
    @app.get(
        "/results/stats",
        tags=["statistics"],
        summary="Count, mean, min, max, stddev and percentiles of every metric, optionally per group, with goodput",
        response_model=StatsBody,
        responses={**_OK_AS_CSV, **_STATISTICS_PROBLEMS},
        dependencies=access.readers(),
    )
    async def stats(
        request: Request,
        *,
        start: Start = None,
        end: End = None,
        summarizing: Summarizing,
    ) -> Response:
        query = summarizing.over(parameters.window(start, end))
        groups = await run_in_threadpool(describe_results, query)
        return stats_response(request, query, groups)

    @app.get(
        "/results/timeseries",
        tags=["statistics"],
        summary="The statistics of /results/stats per UTC-aligned time bucket, empty buckets included",
        response_model=TimeSeriesBody,
        responses={**_OK_AS_CSV, **_STATISTICS_PROBLEMS},
        dependencies=access.readers(),
    )
    async def timeseries(
        request: Request,
        *,
        start: RequiredStart,
        end: RequiredEnd,
        bucket: Annotated[
            str,
            Query(
                description=f"One of {', '.join(BUCKET_WIDTHS)}, a number of days (7d), or {AUTO}: "
                "at most about 200 buckets.",
                json_schema_extra={"pattern": BUCKET_PATTERN},
            ),
        ] = AUTO,
        metric: Annotated[
            list[str],
            Query(
                description=f"Metrics to report (repeat, or comma-separate); all by default: "
                f"{', '.join(STATISTIC_METRICS)}.",
            ),
        ] = [],  # noqa: B006 - FastAPI copies defaults; a list is how it declares a repeatable parameter
        summarizing: Summarizing,
    ) -> Response:
        window = parameters.closed_window(start, end)
        query = summarizing.over(window)
        metrics = parameters.metrics(metric)
        bucketing = Bucketing.choose(bucket, window)
        points = await run_in_threadpool(follow_results_over_time, query, bucketing)
        return timeseries_response(request, query, bucketing, points, metrics)

    @app.get(
        "/results/compare",
        tags=["statistics"],
        summary="Did the candidate get slower than the baseline? Per metric: means, p50, p99, change, p-value, verdict",
        description="Each side is a window and/or model and label filters; `model` and `label` apply to both. "
        "A change is a regression or an improvement only when the means differ by at least relative_threshold "
        "of the baseline's and the Mann-Whitney U test gives p < significance.",
        response_model=CompareBody,
        responses=_STATISTICS_PROBLEMS,
        dependencies=access.readers(),
    )
    async def compare(
        *,
        baseline_start: Start = None,
        baseline_end: End = None,
        baseline_model: Model = None,
        baseline_label: Labels = [],  # noqa: B006 - FastAPI copies defaults; a list is how it declares a repeatable parameter
        candidate_start: Start = None,
        candidate_end: End = None,
        candidate_model: Model = None,
        candidate_label: Labels = [],  # noqa: B006 - as above
        model: Annotated[str | None, Query(description="Only results of this model, on both sides.")] = None,
        label: Annotated[
            list[str],
            Query(description="key:value every result carries, on both sides.", json_schema_extra=LABEL_FORM),
        ] = [],  # noqa: B006 - as above
        relative_threshold: Annotated[
            float, Query(gt=0, le=10, description="Smallest relative change of the mean that counts.")
        ] = 0.05,
        significance: Annotated[float, Query(gt=0, lt=1, description="Largest p-value that counts.")] = 0.05,
    ) -> Response:
        shared = parameters.labels(label)
        baseline, candidate = (
            _side(side, parameters.selection(start, end, side_model or model, labels, f"{side}_"), shared)
            for side, start, end, side_model, labels in (
                ("baseline", baseline_start, baseline_end, baseline_model, baseline_label),
                ("candidate", candidate_start, candidate_end, candidate_model, candidate_label),
            )
        )
        report = await run_in_threadpool(
            lambda: compare_results(
                baseline,
                candidate,
                percentiles=(50.0, 99.0),
                relative_threshold=relative_threshold,
                significance=significance,
            )
        )
        return comparison_response(report, baseline, candidate, relative_threshold, significance)

    @app.get(
        "/results/histogram",
        tags=["statistics"],
        summary="How one metric's values spread: bin edges and exact counts, for distributions and CDFs",
        description="Over the successful results that have the metric (`failed` counts the failed ones beside). "
        "`linear` edges split [min, max] evenly; `log` edges are geometric from the smallest positive value to "
        "max, and values <= 0 count in the first bin. Bin i holds edges[i] <= value < edges[i+1]; the last bin "
        "includes max. When every value is the same there is one bin, [min, max]. Without values, `edges` is "
        "null and `counts` empty.",
        response_model=HistogramBody,
        responses={
            200: {"content": CSV_RESPONSE, "description": "As CSV: bin_start, bin_end, count, one row per bin."},
            **_STATISTICS_PROBLEMS,
        },
        dependencies=access.readers(),
    )
    async def histogram(
        request: Request,
        *,
        metric: Annotated[
            str,
            Query(
                description=f"The metric: one of {', '.join(STATISTIC_METRICS)}.",
                json_schema_extra={"enum": list(STATISTIC_METRICS)},
            ),
        ],
        start: Start = None,
        end: End = None,
        model: Model = None,
        label: Labels = [],  # noqa: B006 - FastAPI copies defaults; a list is how it declares a repeatable parameter
        bins: Annotated[int, Query(ge=1, le=MAX_BINS, description="How many bins.")] = DEFAULT_BINS,
        scale: Annotated[
            str,
            Query(
                description="linear: even edges from min to max; log: geometric edges from the smallest "
                "positive value to max (values <= 0 count in the first bin).",
                json_schema_extra={"enum": [scale.value for scale in Scale]},
            ),
        ] = Scale.LINEAR.value,
    ) -> Response:
        selection = parameters.selection(start, end, model, label)
        chosen = parameters.metric(metric)
        spacing = Scale.parse(scale)
        report = await run_in_threadpool(lambda: describe_distribution(selection, chosen, bins=bins, scale=spacing))
        return histogram_response(request, selection, report)


@dataclass(frozen=True, slots=True)
class _Summarizing:
    """What a statistics request asks, but for its window."""

    model: str | None
    labels: tuple[tuple[str, str], ...]
    group_by: Grouping | None
    percentiles: tuple[float, ...]
    objective: ServiceLevelObjective | None

    def over(self, window: TimeWindow | None) -> SummaryQuery:
        return SummaryQuery(
            ResultFilter(window, self.model, self.labels), self.percentiles, self.objective, self.group_by
        )


def _summarizing(
    *,
    model: Model = None,
    label: Labels = [],  # noqa: B006 - FastAPI copies defaults; a list is how it declares a repeatable parameter
    group_by: GroupBy = None,
    percentiles: Percentiles = _DEFAULT_PERCENTILES,
    slo_ttft_ms: SloTtft = None,
    slo_tpot_ms: SloTpot = None,
    slo_e2e_ms: SloE2e = None,
) -> _Summarizing:
    """The query parameters /results/stats and /results/timeseries share, parsed once for both."""
    bounds = (slo_ttft_ms, slo_tpot_ms, slo_e2e_ms)
    return _Summarizing(
        model=model,
        labels=parameters.labels(label),
        group_by=parameters.grouping(group_by),
        percentiles=parse_percentiles(percentiles),
        objective=None if bounds == (None, None, None) else ServiceLevelObjective(*bounds),
    )


Summarizing = Annotated[_Summarizing, Depends(_summarizing)]


def _side(name: str, own: ResultFilter, shared: tuple[tuple[str, str], ...]) -> ResultFilter:
    """A comparison side's filter, with the labels both sides share."""
    mine = dict(own.labels)
    clashing = [key for key, value in shared if mine.get(key, value) != value]
    if clashing:
        raise InvalidStatisticsQuery(f"{name}_label", f"label {clashing[0]} is also given by label, with another value")
    return ResultFilter(own.window, own.model, tuple(sorted({**dict(shared), **mine}.items())))
