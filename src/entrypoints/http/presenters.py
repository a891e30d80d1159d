"""How answers look: the JSON and CSV of averages, summaries, series, comparisons, histograms,
results, runs and import reports, shared by every route.

Routes parse (parameters.py), call their use case and hand its answer here. Bodies are encoded
once with msgspec rather than validated again by FastAPI; the pydantic models of schemas.py stay
the documented shapes, and the HTTP tests and schemathesis hold the two together.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import msgspec
from fastapi import Request
from fastapi.responses import Response

from src.application.import_results import ImportReport
from src.application.ports.result_store import PageKey, ResultPage, RunPage, SummaryQuery
from src.application.result_statistics import ComparisonReport, DistributionReport, GroupSummary, SeriesPoint
from src.domain.benchmark_result import STORED_METRICS, TEXT_FIELDS, BenchmarkResult
from src.domain.result_aggregate import AverageSummary
from src.domain.result_selection import ResultFilter
from src.domain.runs import RunSummary
from src.domain.statistics import STATISTIC_METRICS, UNITS, MetricStats, ResultSummary, percentile_name
from src.domain.time_buckets import Bucketing
from src.entrypoints.http.csv_export import csv_response, wants_csv
from src.entrypoints.http.cursors import encode_cursor, iso_utc
from src.entrypoints.http.problems import rejection

_JSON = "application/json"
# Answers that come as CSV too depend on Accept; caches must key on it.
_VARY_ACCEPT = {"Vary": "Accept"}


def json_response(content: object, status: int = HTTPStatus.OK, *, negotiated: bool = False) -> Response:
    """`content` as JSON; `negotiated` when the route answers CSV too (Vary: Accept)."""
    return Response(
        msgspec.json.encode(content), status_code=status, media_type=_JSON, headers=_VARY_ACCEPT if negotiated else None
    )


# Averages: the hot path, encoded from a plain dict with no intermediate model.


def average_response(summary: AverageSummary) -> Response:
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
        media_type=_JSON,
    )


# Results and runs.

RESULT_COLUMNS = (
    "request_id",
    "timestamp",
    "model",
    *STORED_METRICS,
    "error",
    "labels",
    *TEXT_FIELDS,
)


def result_body(result: BenchmarkResult) -> dict[str, Any]:
    return {
        "request_id": result.request_id,
        "timestamp": iso_utc(result.timestamp),
        "token_count": result.token_count,
        "time_to_first_token": result.time_to_first_token,
        "time_per_output_token": result.time_per_output_token,
        "total_generation_time": result.total_generation_time,
        "prompt_token_count": result.prompt_token_count,
        "error": result.error,
        "prompt_text": result.prompt_text,
        "generated_text": result.generated_text,
        "model": result.model,
        "labels": dict(result.labels),
    }


def result_row(result: BenchmarkResult) -> list[object]:
    """A result as a CSV row of RESULT_COLUMNS; labels as JSON text."""
    labels = msgspec.json.encode(dict(result.labels)).decode()
    return [
        result.request_id,
        iso_utc(result.timestamp),
        result.model,
        *(getattr(result, metric) for metric in STORED_METRICS),
        result.error,
        labels,
        *(getattr(result, field) for field in TEXT_FIELDS),
    ]


def result_cursor(key: PageKey) -> str:
    return encode_cursor(key.timestamp, key.request_id)


def results_page_response(request: Request, page: ResultPage) -> Response:
    """A page of results as JSON, or as CSV with the next page in a Link header."""
    if wants_csv(request):
        headers = {}
        if page.next is not None:
            following = request.url.include_query_params(cursor=result_cursor(page.next))
            headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
        return csv_response(RESULT_COLUMNS, map(result_row, page.results), "results.csv", headers)
    return json_response(
        {
            "results": [result_body(result) for result in page.results],
            "next_cursor": None if page.next is None else result_cursor(page.next),
        },
        negotiated=True,
    )


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


def runs_page_response(page: RunPage) -> Response:
    return json_response(
        {
            "runs": [run_body(summary) for summary in page.runs],
            "next_cursor": None if page.next is None else encode_cursor(page.next.last, page.next.run),
        }
    )


def report_body(report: ImportReport) -> dict[str, Any]:
    """An import's report as clients read it; `line` repeats `position` for clients of the NDJSON import."""
    return {
        "stored": report.stored,
        "already_stored": report.already_stored,
        "rejected": report.rejected,
        "failed": report.failed,
        "run": report.run,
        "tool": report.tool,
        "format": report.file_format,
        "warnings": report.warnings,
        "errors": [rejection(error, "position") | {"line": error.index} for error in report.errors],
    }


# Statistics: stats, time series, comparisons and histograms.


def selection_body(selection: ResultFilter) -> dict[str, Any]:
    window = selection.window
    return {
        "start": None if window is None or window.open_start else iso_utc(window.start),
        "end": None if window is None or window.open_end else iso_utc(window.end),
        "model": selection.model,
        "labels": dict(selection.labels),
    }


def stats_response(request: Request, query: SummaryQuery, groups: list[GroupSummary]) -> Response:
    if wants_csv(request):
        header = ["group", "result_count", "failed_count", "error_rate", *_summary_columns(query)]
        rows = (
            [entry.group, entry.summary.count, entry.summary.failed, entry.summary.error_rate, *row]
            for entry in groups
            for row in _summary_rows(entry.summary, query, STATISTIC_METRICS)
        )
        return csv_response(header, rows, "stats.csv")
    return json_response(
        {
            **_description(query),
            "groups": [{"group": entry.group, **_summary_body(entry.summary, query)} for entry in groups],
        },
        negotiated=True,
    )


def timeseries_response(
    request: Request,
    query: SummaryQuery,
    bucketing: Bucketing,
    points: list[SeriesPoint],
    metrics: tuple[str, ...],
) -> Response:
    if wants_csv(request):
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
    series: dict[str | None, list[dict[str, Any]]] = {}
    for point in points:
        series.setdefault(point.group, []).append(
            {
                "start": iso_utc(bucketing.start_of(point.bucket)),
                "end": iso_utc(bucketing.end_of(point.bucket)),
                **_summary_body(point.summary, query, metrics),
            }
        )
    return json_response(
        {
            **_description(query, metrics),
            "bucket": bucketing.name,
            "bucket_seconds": bucketing.width // 1_000_000,
            "series": [{"group": group, "buckets": buckets} for group, buckets in series.items()],
        },
        negotiated=True,
    )


def comparison_response(
    report: ComparisonReport,
    baseline: ResultFilter,
    candidate: ResultFilter,
    relative_threshold: float,
    significance: float,
) -> Response:
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
            "rank_test": None
            if found is None or entry.baseline is None or entry.candidate is None
            else {
                "values": "all" if entry.ranked == (entry.baseline.count, entry.candidate.count) else "sample",
                "baseline": entry.ranked[0],
                "candidate": entry.ranked[1],
            },
        }
    return json_response(
        {
            "baseline": {**selection_body(baseline), "count": report.baseline_count, "failed": report.baseline_failed},
            "candidate": {
                **selection_body(candidate),
                "count": report.candidate_count,
                "failed": report.candidate_failed,
            },
            "relative_threshold": relative_threshold,
            "significance": significance,
            "units": {entry.metric: UNITS[entry.metric] for entry in report.metrics},
            "metrics": metrics,
        }
    )


HISTOGRAM_COLUMNS = ("bin_start", "bin_end", "count")


def histogram_response(request: Request, selection: ResultFilter, report: DistributionReport) -> Response:
    """A histogram as JSON, or as CSV: one row per bin."""
    found = report.histogram
    if wants_csv(request):
        return csv_response(HISTOGRAM_COLUMNS, found.bins(), "histogram.csv")
    return json_response(
        {
            "selection": selection_body(selection),
            "metric": report.metric,
            "unit": UNITS[report.metric],
            "scale": found.scale.value,
            "count": found.count,
            "failed": report.failed,
            "min": found.minimum,
            "max": found.maximum,
            "edges": None if found.edges is None else list(found.edges),
            "counts": list(found.counts),
        },
        negotiated=True,
    )


def _description(query: SummaryQuery, metrics: tuple[str, ...] = STATISTIC_METRICS) -> dict[str, Any]:
    return {
        "selection": selection_body(query.selection),
        "group_by": None if query.group_by is None else query.group_by.name,
        "percentiles": list(query.percentiles),
        "units": {metric: UNITS[metric] for metric in metrics},
        "slo": None if query.objective is None else query.objective.bounds(),
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
        "percentiles": "exact" if summary.percentile_accuracy is None else "approximate",
        "percentile_relative_accuracy": summary.percentile_accuracy,
        "metrics": {metric: _stats_body(summary.metrics[metric]) for metric in metrics},
    }


_percentile_field = functools.lru_cache(maxsize=256)(percentile_name)
"""percentile_name, remembered: a year's time series names 8,760 percentiles."""


def _stats_body(stats: MetricStats | None) -> dict[str, Any] | None:
    """A metric's statistics, or None when it has no value."""
    if stats is None:
        return None
    body = {
        "count": stats.count,
        "mean": stats.mean,
        "min": stats.minimum,
        "max": stats.maximum,
        "stddev": stats.stddev,
    }
    # A plain loop: the fastest way in Python to add them (a year's time series builds 2,190 bodies).
    for q, value in stats.percentiles:
        body[_percentile_field(q)] = value
    return body


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
        "percentiles",
        "percentile_relative_accuracy",
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
        method = "exact" if summary.percentile_accuracy is None else "approximate"
        goodput = [summary.goodput, summary.goodput_share]
        yield [metric, UNITS[metric], *values, *goodput, method, summary.percentile_accuracy]
