"""Statistics endpoints: GET /results/stats, /results/timeseries and /results/compare."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from src.application.ports.result_store import SummaryQuery
from src.application.result_statistics import (
    CompareResults,
    ComparisonReport,
    DescribeResults,
    FollowResultsOverTime,
    GroupSummary,
    SeriesPoint,
)
from src.domain.errors import InvalidStatisticsQuery, InvalidTimestamp, InvalidTimeWindow
from src.domain.result_selection import Grouping, ResultFilter, parse_labels
from src.domain.statistics import (
    DEFAULT_PERCENTILES,
    STATISTIC_METRICS,
    UNITS,
    MetricStats,
    ResultSummary,
    ServiceLevelObjective,
    parse_percentiles,
    percentile_name,
)
from src.domain.time_buckets import AUTO, BUCKET_PATTERN, BUCKET_WIDTHS, Bucketing
from src.domain.time_window import TimeWindow
from src.domain.timestamps import parse_window_end, parse_window_start
from src.entrypoints.http.access import Access
from src.entrypoints.http.csv_export import CSV_RESPONSE, csv_response, wants_csv
from src.entrypoints.http.cursors import iso_utc
from src.entrypoints.http.problems import READ_PROBLEMS, documented_problems
from src.entrypoints.http.schemas import CompareBody, StatsBody, TimeSeriesBody

_MILLISECONDS = Query(ge=0, le=1e12)
_DEFAULT_PERCENTILES = ",".join(f"{q:g}" for q in DEFAULT_PERCENTILES)
_BOUND = "As in the averages' windows: ISO 8601, without an offset UTC; a date alone is the start or whole of that day."

Start = Annotated[str | None, Query(description=f"Earliest timestamp, included. {_BOUND}")]
End = Annotated[str | None, Query(description=f"Latest timestamp, included. {_BOUND}")]
Model = Annotated[str | None, Query(description="Only results of this model.")]
# Patterns and enums below document the forms (and let schema-driven clients generate them);
# the checks themselves are the domain's, so that a refusal names the parameter at fault.
_LABEL_FORM: dict[str, Any] = {"items": {"type": "string", "pattern": "^[^:]+:"}, "examples": [["run:a"]]}
Labels = Annotated[
    list[str],
    Query(description="key:value; repeat for several, all of which must match.", json_schema_extra=_LABEL_FORM),
]
GroupBy = Annotated[
    str | None,
    Query(
        description="model, or label:<key>; results without one form the null group.",
        json_schema_extra={"pattern": "^(model|label:[^:]+)$", "examples": ["model", "label:run"]},
    ),
]
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
        query = summarizing.over(_window(start, end))
        groups = await run_in_threadpool(describe_results, query)
        if wants_csv(request):
            return _stats_csv(query, groups)
        return _json(
            {
                **_description(query),
                "groups": [{"group": entry.group, **_summary_body(entry.summary, query)} for entry in groups],
            }
        )

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
        start: Annotated[str, Query(description=f"Start of the series, included. {_BOUND}")],
        end: Annotated[str, Query(description=f"End of the series, included. {_BOUND}")],
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
        query = summarizing.over(_window(start, end))
        metrics = _metrics(metric)
        assert query.selection.window is not None  # both bounds are required parameters
        bucketing = Bucketing.choose(bucket, query.selection.window)
        points = await run_in_threadpool(follow_results_over_time, query, bucketing)
        if wants_csv(request):
            return _timeseries_csv(query, bucketing, points, metrics)
        series: dict[str | None, list[dict[str, Any]]] = {}
        for point in points:
            series.setdefault(point.group, []).append(
                {
                    "start": iso_utc(bucketing.start_of(point.bucket)),
                    "end": iso_utc(bucketing.end_of(point.bucket)),
                    **_summary_body(point.summary, query, metrics),
                }
            )
        return _json(
            {
                **_description(query, metrics),
                "bucket": bucketing.name,
                "bucket_seconds": bucketing.width // 1_000_000,
                "series": [{"group": group, "buckets": buckets} for group, buckets in series.items()],
            }
        )

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
            Query(description="key:value every result carries, on both sides.", json_schema_extra=_LABEL_FORM),
        ] = [],  # noqa: B006 - as above
        relative_threshold: Annotated[
            float, Query(gt=0, le=10, description="Smallest relative change of the mean that counts.")
        ] = 0.05,
        significance: Annotated[float, Query(gt=0, lt=1, description="Largest p-value that counts.")] = 0.05,
    ) -> Response:
        shared = parse_labels(label, "label")
        baseline, candidate = (
            _side(side, start=start, end=end, model=side_model or model, shared=shared, labels=labels)
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
        return _json(_comparison_body(report, baseline, candidate, relative_threshold, significance))


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
        labels=parse_labels(label),
        group_by=None if group_by is None else Grouping.parse(group_by),
        percentiles=parse_percentiles(percentiles),
        objective=None if bounds == (None, None, None) else ServiceLevelObjective(*bounds),
    )


Summarizing = Annotated[_Summarizing, Depends(_summarizing)]


def _window(start: str | None, end: str | None, prefix: str = "") -> TimeWindow | None:
    """The window (open where a bound is missing), or a problem naming the parameter at fault."""

    def bound(name: str, text: str | None, parse: Callable[[str], datetime]) -> datetime | None:
        try:
            return None if text is None else parse(text)
        except InvalidTimestamp as error:
            raise InvalidStatisticsQuery(prefix + name, str(error)) from None

    try:
        return TimeWindow.open(bound("start", start, parse_window_start), bound("end", end, parse_window_end))
    except InvalidTimeWindow as error:
        raise InvalidStatisticsQuery(prefix + "end", str(error)) from None


def _side(
    name: str,
    *,
    start: str | None,
    end: str | None,
    model: str | None,
    shared: tuple[tuple[str, str], ...],
    labels: list[str],
) -> ResultFilter:
    own = dict(parse_labels(labels, f"{name}_label"))
    clashing = [key for key, value in shared if own.get(key, value) != value]
    if clashing:
        raise InvalidStatisticsQuery(f"{name}_label", f"label {clashing[0]} is also given by label, with another value")
    return ResultFilter(_window(start, end, f"{name}_"), model, tuple(sorted({**dict(shared), **own}.items())))


def _metrics(requested: list[str]) -> tuple[str, ...]:
    names = [name.strip() for entry in requested for name in entry.split(",") if name.strip()]
    unknown = [name for name in names if name not in STATISTIC_METRICS]
    if unknown:
        raise InvalidStatisticsQuery("metric", f"{unknown[0]!r} is none of {', '.join(STATISTIC_METRICS)}")
    return tuple(dict.fromkeys(names)) or STATISTIC_METRICS


def _description(query: SummaryQuery, metrics: tuple[str, ...] = STATISTIC_METRICS) -> dict[str, Any]:
    return {
        "selection": _selection_body(query.selection),
        "group_by": None if query.group_by is None else query.group_by.name,
        "percentiles": list(query.percentiles),
        "units": {metric: UNITS[metric] for metric in metrics},
        "slo": None if query.objective is None else query.objective.bounds(),
    }


def _selection_body(selection: ResultFilter) -> dict[str, Any]:
    window = selection.window
    return {
        "start": None if window is None or window.open_start else iso_utc(window.start),
        "end": None if window is None or window.open_end else iso_utc(window.end),
        "model": selection.model,
        "labels": dict(selection.labels),
    }


def _summary_body(
    summary: ResultSummary, query: SummaryQuery, metrics: tuple[str, ...] = STATISTIC_METRICS
) -> dict[str, Any]:
    goodput = None if summary.goodput is None else {"count": summary.goodput, "share": summary.goodput_share}
    return {
        "count": summary.count,
        "failed": summary.failed,
        "error_rate": summary.error_rate,
        "goodput": goodput,
        "metrics": {metric: _stats_body(summary.metrics[metric]) for metric in metrics},
    }


def _stats_body(stats: MetricStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {
        "count": stats.count,
        "mean": stats.mean,
        "min": stats.minimum,
        "max": stats.maximum,
        "stddev": stats.stddev,
        **{percentile_name(q): value for q, value in stats.percentiles},
    }


def _comparison_body(
    report: ComparisonReport,
    baseline: ResultFilter,
    candidate: ResultFilter,
    relative_threshold: float,
    significance: float,
) -> dict[str, Any]:
    def side(stats: MetricStats | None) -> dict[str, Any] | None:
        if stats is None:
            return None
        quantiles = dict(stats.percentiles)
        return {"count": stats.count, "mean": stats.mean, "p50": quantiles[50.0], "p99": quantiles[99.0]}

    metrics = {}
    for entry in report.metrics:
        found = entry.comparison
        metrics[entry.metric] = {
            "lower_is_better": entry.lower_is_better,
            "baseline": side(entry.baseline),
            "candidate": side(entry.candidate),
            "absolute_change": None if found is None else found.absolute_change,
            "relative_change": None if found is None else found.relative_change,
            "p_value": None if found is None else found.p_value,
            "verdict": None if found is None else found.verdict.value,
        }
    return {
        "baseline": {**_selection_body(baseline), "count": report.baseline_count, "failed": report.baseline_failed},
        "candidate": {
            **_selection_body(candidate),
            "count": report.candidate_count,
            "failed": report.candidate_failed,
        },
        "relative_threshold": relative_threshold,
        "significance": significance,
        "units": {entry.metric: UNITS[entry.metric] for entry in report.metrics},
        "metrics": metrics,
    }


def _summary_columns(query: SummaryQuery) -> list[str]:
    return [
        "metric",
        "unit",
        "value_count",
        "mean",
        "min",
        "max",
        "stddev",
        *(percentile_name(q) for q in query.percentiles),
        "goodput_count",
        "goodput_share",
    ]


def _summary_rows(summary: ResultSummary, query: SummaryQuery, metrics: tuple[str, ...]) -> Iterator[list[object]]:
    """One row per metric: a long table, which a spreadsheet filters and pivots as it likes."""
    blanks = [None] * (4 + len(query.percentiles))
    for metric in metrics:
        stats = summary.metrics[metric]
        values: list[object] = [0, *blanks]
        if stats is not None:
            values = [stats.count, stats.mean, stats.minimum, stats.maximum, stats.stddev]
            values += [value for _, value in stats.percentiles]
        yield [metric, UNITS[metric], *values, summary.goodput, summary.goodput_share]


def _stats_csv(query: SummaryQuery, groups: list[GroupSummary]) -> Response:
    header = ["group", "result_count", "failed_count", "error_rate", *_summary_columns(query)]
    rows = (
        [entry.group, entry.summary.count, entry.summary.failed, entry.summary.error_rate, *row]
        for entry in groups
        for row in _summary_rows(entry.summary, query, STATISTIC_METRICS)
    )
    return csv_response(header, rows, "stats.csv")


def _timeseries_csv(
    query: SummaryQuery, bucketing: Bucketing, points: list[SeriesPoint], metrics: tuple[str, ...]
) -> Response:
    header = [
        "bucket_start",
        "bucket_end",
        "group",
        "result_count",
        "failed_count",
        "error_rate",
        *_summary_columns(query),
    ]
    rows = (
        [
            iso_utc(bucketing.start_of(point.bucket)),
            iso_utc(bucketing.end_of(point.bucket)),
            point.group,
            point.summary.count,
            point.summary.failed,
            point.summary.error_rate,
            *row,
        ]
        for point in points
        for row in _summary_rows(point.summary, query, metrics)
    )
    return csv_response(header, rows, "timeseries.csv")


def _json(content: object) -> Response:
    return Response(msgspec.json.encode(content), media_type="application/json", headers={"Vary": "Accept"})
