"""How PostgreSQL answers statistics: one grouped statement summarises where the rows are, and
one metric's columns are read alone for a histogram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import ARRAY, BigInteger, Float, Text, and_, case, cast, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from src.adapters.column_statistics import Columns, metric_sources
from src.adapters.sql_store.schema import results
from src.adapters.sql_store.selection import Failed, bucket_expression, conditions, group_expression
from src.application.ports.result_store import SummaryKey, SummaryQuery
from src.domain.benchmark_result import STORED_METRICS
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.statistics import (
    MILLISECONDS_PER_SECOND,
    MIN_THROUGHPUT_MILLISECONDS,
    STATISTIC_METRICS,
    MetricStats,
    ResultSummary,
    ServiceLevelObjective,
)

_WIDTH = len(STORED_METRICS)


def label_value(key: str) -> Any:
    """The value of label `key` as text, NULL when the result has no such label."""
    return results.c.labels[key].as_string()


def label_is(key: str, value: str) -> Any:
    """Whether a result carries label `key` = `value`: a containment the labels' GIN index serves,
    so that a run's results are found in a year without reading the year."""
    return _LABELS.contains({key: value})


def label_present(key: str) -> Any:
    """Whether a result carries label `key`, whatever its value."""
    return _LABELS.has_key(key)


# The labels as JSONB, whose operators (containment, key existence) the schema's generic JSON type lacks.
_LABELS = type_coerce(results.c.labels, JSONB)


def selected(selection: ResultFilter) -> list[Any]:
    """WHERE clauses selecting `selection`'s results in PostgreSQL."""
    return conditions(selection, label_value, label_is)


def metric_columns_statement(selection: ResultFilter, metric: str) -> Any:
    """The stored metrics a summarised metric needs, and whether each result failed."""
    sources = [results.c[name] for name in metric_sources(metric)]
    return select(*sources, results.c.error.is_not(None)).where(*selected(selection))


def metric_columns(rows: list[tuple[Any, ...]], metric: str) -> tuple[Columns, Failed]:
    """Rows of metric_columns_statement as Columns (NaN in the metrics not read) and failed flags."""
    sources = metric_sources(metric)
    block = np.array(rows, dtype=np.float64).reshape(-1, len(sources) + 1)
    columns = np.full((len(block), _WIDTH), np.nan)
    for position, name in enumerate(sources):
        columns[:, STORED_METRICS.index(name)] = block[:, position]
    return columns, block[:, -1] != 0


_SUCCEEDED = results.c.error.is_(None)


def _metric_expressions() -> dict[str, Any]:
    """Each summarised metric as a float8 expression, NULL for a failed result and where the
    metric is undefined; throughput NULL where the domain leaves it out (a NULL token count or
    time gives a NULL quotient or comparison, so a NULL throughput)."""
    expressions: dict[str, Any] = {
        metric: case((_SUCCEEDED, cast(results.c[metric], Float(53)))) for metric in STORED_METRICS
    }
    tokens, total = (cast(results.c[metric], Float(53)) for metric in ("token_count", "total_generation_time"))
    seconds = total / literal(MILLISECONDS_PER_SECOND, Float(53))
    expressions["output_throughput"] = case(
        (and_(_SUCCEEDED, total >= literal(MIN_THROUGHPUT_MILLISECONDS, Float(53))), tokens / seconds)
    )
    return expressions


# Built once: the expressions never change, only the statements that aggregate them.
_METRIC_EXPRESSIONS = _metric_expressions()


def _meets(objective: ServiceLevelObjective) -> Any:
    """Whether a result succeeded within every bound of `objective` (a NULL metric makes its bound
    NULL: the objective is not met)."""
    return and_(_SUCCEEDED, *(results.c[metric] <= bound for metric, bound in objective.bounds().items()))


def summary_statement(query: SummaryQuery) -> Any:
    """PostgreSQL summarises where the rows are: one grouped statement, percentile_cont for the percentiles.

    The selected rows' values (NULL where a failure or an undefined metric leaves none) are
    worked out once per row in a subquery, which OFFSET 0 keeps PostgreSQL from merging into the
    aggregation: merged, each value's expression would run again for each of its six aggregates
    (a 1-day window of 86,400 results took 177 ms so, 138 ms as it is).
    """
    keys: list[Any] = []
    if query.group_by is not None:
        keys.append(group_expression(query.group_by, label_value).label("group_key"))
    if query.bucket_width is not None:
        keys.append(bucket_expression(query.bucket_width).label("bucket_key"))
    per_row: list[Any] = [*keys, _SUCCEEDED.label("succeeded")]
    per_row += [value.label(metric) for metric, value in _METRIC_EXPRESSIONS.items()]
    if query.objective is not None:
        per_row.append(_meets(query.objective).label("met"))
    chosen = select(*per_row).where(*selected(query.selection)).offset(0).subquery("chosen")
    fractions = [q / 100 for q in query.percentiles]
    aggregates: list[Any] = [
        func.count().filter(chosen.c.succeeded).label("result_count"),
        func.count().filter(~chosen.c.succeeded).label("failed_count"),
    ]
    for metric in _METRIC_EXPRESSIONS:
        aggregates += _metric_aggregates(chosen.c[metric], fractions)
    if query.objective is not None:
        aggregates.append(func.count().filter(chosen.c.met))
    grouped_by = [chosen.c[key.name] for key in keys]
    # An answer's keys are always a group and a bucket; NULL where the query asks for neither.
    answer_keys = [
        chosen.c[name] if name in chosen.c else literal(None, kind).label(name)
        for name, kind in (("group_key", Text), ("bucket_key", BigInteger))
    ]
    statement = select(*answer_keys, *aggregates)
    return statement.group_by(*grouped_by) if grouped_by else statement


def goodput_statement(query: SummaryQuery) -> Any:
    """(group, bucket, goodput) rows: per group and bucket the query asks for, the successes
    meeting its objective (which must be given)."""
    assert query.objective is not None
    keys = [
        literal(None, Text) if query.group_by is None else group_expression(query.group_by, label_value),
        literal(None, BigInteger) if query.bucket_width is None else bucket_expression(query.bucket_width),
    ]
    met = func.count().filter(_meets(query.objective))
    grouped = [key for key, asked in zip(keys, (query.group_by, query.bucket_width), strict=True) if asked is not None]
    statement = select(*keys, met).where(*selected(query.selection))
    return statement.group_by(*grouped) if grouped else statement


def group_count_statement(selection: ResultFilter, grouping: Grouping, at_most: int) -> Any:
    """How many groups (the null group included) the selected results fall into,
    counted no further than `at_most`.

    It reads the selected rows once, without the per-group sorts of percentile_cont that make
    summary_statement cost about 35 µs a group: it lets a store refuse too many groups first.
    """
    keys = (
        select(group_expression(grouping, label_value).label("group_key"))
        .where(*selected(selection))
        .distinct()
        .limit(at_most)
    )
    return select(func.count()).select_from(keys.subquery())


_PER_METRIC = 6
"""Columns of summary_statement per metric, as _metric_aggregates lists them."""


def _metric_aggregates(value: Any, fractions: list[float]) -> list[Any]:
    """count, mean, min, max, population spread and the percentiles (an array) of one metric."""
    percentiles = (
        func.percentile_cont(literal(fractions, ARRAY(Float(53)))).within_group(value)
        if fractions
        else literal(None, Text)
    )
    return [func.count(value), func.avg(value), func.min(value), func.max(value), func.stddev_pop(value), percentiles]


def summary_row(row: Sequence[Any], query: SummaryQuery) -> tuple[SummaryKey, ResultSummary]:
    """A row of summary_statement as its (group, bucket) key and summary."""
    group, bucket, count, failed, *rest = row
    metrics: dict[str, MetricStats | None] = {}
    for position, metric in enumerate(STATISTIC_METRICS):
        first = _PER_METRIC * position
        values, mean, minimum, maximum, stddev, quantiles = rest[first : first + _PER_METRIC]
        metrics[metric] = (
            MetricStats(
                count=int(values),
                mean=float(mean),
                minimum=float(minimum),
                maximum=float(maximum),
                stddev=float(stddev),
                percentiles=tuple(zip(query.percentiles, map(float, quantiles or ()), strict=True)),
            )
            if values
            else None
        )
    goodput = None if query.objective is None else int(rest[_PER_METRIC * len(STATISTIC_METRICS)])
    summary = ResultSummary(int(count), metrics, goodput, int(failed))
    return (group, None if bucket is None else int(bucket)), summary
