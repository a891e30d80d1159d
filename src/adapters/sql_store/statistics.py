"""How the SQL store answers statistics: PostgreSQL summarises in one statement; SQLite hands
numpy its packed minutes (and rows where packs cannot answer: label filters and groups)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Float,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
)

from src.adapters.column_statistics import Columns, metric_sources
from src.adapters.sql_store.rollups import split_window
from src.adapters.sql_store.schema import NO_MODEL, ROLLUP_WIDTHS, result_packs, results
from src.application.ports.result_store import SummaryKey, SummaryQuery
from src.domain.benchmark_result import STORED_METRICS, BenchmarkResult
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.statistics import (
    MILLISECONDS_PER_SECOND,
    MIN_THROUGHPUT_MILLISECONDS,
    STATISTIC_METRICS,
    MetricStats,
    ResultSummary,
)
from src.domain.timestamps import microseconds_since_epoch

Failed = npt.NDArray[np.bool_]
"""One flag per row of some Columns: True where the result failed (its metrics are not read)."""


class Selected(NamedTuple):
    """The selected results' metrics (one row each, NaN where undefined), which of them failed,
    their groups and their bucket indexes."""

    columns: Columns
    failed: Failed
    groups: list[str | None] | None
    buckets: npt.NDArray[np.int64] | None


_MINUTE = ROLLUP_WIDTHS[0]
_PACKED = np.dtype("<f8")
_WIDTH = len(STORED_METRICS)
_PACKED_RESULT_BYTES = _PACKED.itemsize * _WIDTH
# SQLite's || joins two blobs byte for byte (typing the result as text); the cast types it back.
ADD_TO_PACKS = """
    INSERT INTO result_packs (minute_start_us, model, result_count, metrics, failed) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (minute_start_us, model) DO UPDATE SET
        result_count = result_packs.result_count + excluded.result_count,
        metrics = CAST(result_packs.metrics || excluded.metrics AS BLOB),
        failed = result_packs.failed + excluded.failed
"""


def split_rows(rows: list[tuple[Any, ...]], *, grouped: bool, bucketed: bool) -> Selected:
    """Rows of the metrics (None where undefined) and whether the result failed, then the group
    when `grouped`, then the bucket when `bucketed`."""
    # None becomes NaN; the failed flag (true or 1) becomes 1.0.
    block = np.array([row[: _WIDTH + 1] for row in rows] if grouped or bucketed else rows, dtype=np.float64)
    block = block.reshape(-1, _WIDTH + 1)
    groups = [row[_WIDTH + 1] for row in rows] if grouped else None
    buckets = np.fromiter((row[-1] for row in rows), dtype=np.int64, count=len(rows)) if bucketed else None
    return Selected(block[:, :_WIDTH], block[:, _WIDTH] != 0, groups, buckets)


def packed_columns(
    connection: Connection, selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None
) -> Selected:
    """SQLite: the window's whole minutes from their packs, and the rows of the partial minutes at
    its edges. The two never overlap, so no result is counted twice. A pack's failed results,
    which it only counts, are rows of NaN marked failed, after every pack's successes."""
    at = results.c.recorded_at_us
    packs = select(result_packs.c.minute_start_us, result_packs.c.model, result_packs.c.metrics, result_packs.c.failed)
    edges = select(*_row_values(), results.c.model, at)
    if selection.window is not None:
        # Split as the averages split a window for their rollups, at the finest width only.
        pieces = split_window(
            microseconds_since_epoch(selection.window.start),
            microseconds_since_epoch(selection.window.end) + 1,
            (_MINUTE,),
        )
        ((first_whole, past_whole), _), *_ = pieces.buckets
        minute = result_packs.c.minute_start_us
        packs = packs.where(minute >= first_whole, minute < past_whole)
        edges = edges.where(or_(*(and_(at >= first, at < past) for first, past in pieces.raw)))
    else:
        edges = edges.where(false())
    if selection.model is not None:
        packs = packs.where(result_packs.c.model == selection.model)
        edges = edges.where(results.c.model == selection.model)
    found = connection.execute(packs).cursor.fetchall()  # as in _row_columns: many rows, no Row objects
    edge = split_rows(list(connection.execute(edges).cursor.fetchall()), grouped=True, bucketed=True)
    # Every pack's successes (packed), then every pack's failures, then the edges' rows.
    counts = [len(metrics) // _PACKED_RESULT_BYTES for _, _, metrics, _ in found]
    failures = [failed for _, _, _, failed in found]
    per_pack = counts + failures
    packed = np.frombuffer(b"".join(metrics for _, _, metrics, _ in found), dtype=_PACKED).reshape(-1, _WIDTH)
    first_failure, first_edge = len(packed), len(packed) + sum(failures)
    groups = None
    if group_by is not None:
        models = [None if model == NO_MODEL else model for _, model, _, _ in found] * 2
        groups = [model for model, n in zip(models, per_pack, strict=True) for _ in range(n)]
        groups += edge.groups or []
    buckets = None
    if bucket_width is not None:
        minutes = np.array([minute for minute, _, _, _ in found] * 2, dtype=np.int64)
        buckets = np.concatenate([np.repeat(minutes // bucket_width, per_pack), edge.buckets // bucket_width])  # type: ignore[operator]
    # Column-major from the start: numpy summarises each metric as a contiguous array, and this
    # one copy replaces both joining the pieces and reordering them.
    columns = np.empty((first_edge + len(edge.columns), _WIDTH), order="F")
    columns[:first_failure] = packed
    columns[first_failure:first_edge] = np.nan
    columns[first_edge:] = edge.columns
    failed = np.zeros(len(columns), dtype=bool)
    failed[first_failure:first_edge] = True
    failed[first_edge:] = edge.failed
    return Selected(columns, failed, groups, buckets)


def packs(batch: Sequence[BenchmarkResult]) -> list[tuple[int, str, int, bytes, int]]:
    """Rows for result_packs: per minute and model, the batch's successes' metrics packed (NaN
    where undefined), and how many of its results failed."""
    grouped: dict[tuple[int, str], tuple[list[float | None], list[int]]] = {}
    for result in batch:
        at = microseconds_since_epoch(result.timestamp)
        values, failed = grouped.setdefault((at - at % _MINUTE, result.model or NO_MODEL), ([], [0]))
        if result.succeeded:
            values.extend(getattr(result, metric) for metric in STORED_METRICS)
        else:
            failed[0] += 1
    # numpy reads None as NaN in a float array.
    return [
        (minute, model, len(values) // _WIDTH, np.array(values, dtype=_PACKED).tobytes(), failed)
        for (minute, model), (values, [failed]) in grouped.items()
    ]


def row_columns_statement(
    selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None, *, postgres: bool
) -> Any:
    """The selected results' metrics and whether they failed, row by row, then their group and
    bucket when asked for (see split_rows)."""
    keys = []
    if group_by is not None:
        keys.append(_group_expression(group_by, postgres=postgres))
    if bucket_width is not None:
        keys.append(_bucket_expression(bucket_width))
    return select(*_row_values(), *keys).where(*conditions(selection, postgres=postgres))


def metric_columns_statement(selection: ResultFilter, metric: str) -> Any:
    """PostgreSQL: the stored metrics a summarised metric needs, and whether each result failed."""
    sources = [results.c[name] for name in metric_sources(metric)]
    return select(*sources, results.c.error.is_not(None)).where(*conditions(selection, postgres=True))


def metric_columns(rows: list[tuple[Any, ...]], metric: str) -> tuple[Columns, Failed]:
    """Rows of metric_columns_statement as Columns (NaN in the metrics not read) and failed flags."""
    sources = metric_sources(metric)
    block = np.array(rows, dtype=np.float64).reshape(-1, len(sources) + 1)
    columns = np.full((len(block), _WIDTH), np.nan)
    for position, name in enumerate(sources):
        columns[:, STORED_METRICS.index(name)] = block[:, position]
    return columns, block[:, -1] != 0


def _row_values() -> list[Any]:
    """A row's metrics in STORED_METRICS order, then whether it failed."""
    return [*(results.c[metric] for metric in STORED_METRICS), results.c.error.is_not(None)]


def conditions(selection: ResultFilter, *, postgres: bool) -> list[Any]:
    """WHERE clauses selecting `selection`'s results: every client text bound as a parameter."""
    if selection.selects_nothing:
        # PostgreSQL refuses a text holding NUL outright; no stored text holds one, so nothing matches.
        return [false()]
    at = results.c.recorded_at_us
    conditions = []
    if selection.window is not None:
        conditions += [
            at >= microseconds_since_epoch(selection.window.start),
            at <= microseconds_since_epoch(selection.window.end),
        ]
    if selection.model is not None:
        conditions.append(results.c.model == selection.model)
    conditions += [label_value(key, postgres=postgres) == value for key, value in selection.labels]
    return conditions


def _group_expression(grouping: Grouping, *, postgres: bool) -> Any:
    if grouping.always_none:
        # As in conditions: a label key no result holds is not sent to the database, which may refuse it.
        return literal(None, Text)
    return results.c.model if grouping.label_key is None else label_value(grouping.label_key, postgres=postgres)


def label_value(key: str, *, postgres: bool) -> Any:
    """The value of label `key` as text, NULL when the result has no such label."""
    if postgres:
        return results.c.labels[key].as_string()
    # SQLite's JSON paths cannot name a key holding a double quote or a backslash; its json_each
    # compares keys as plain strings and so finds any of them.
    label = func.json_each(results.c.labels).table_valued("key", "value").alias("label")
    return select(label.c.value).where(label.c.key == key).scalar_subquery()


def _bucket_expression(width: int) -> Any:
    at, width_value = results.c.recorded_at_us, literal(width, BigInteger)
    # A floor division, right for instants before 1970 too (SQL's "/" and "%" truncate toward zero).
    return (at - ((at % width_value) + width_value) % width_value) / width_value


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


def summary_statement(query: SummaryQuery) -> Any:
    """PostgreSQL summarises where the rows are: one grouped statement, percentile_cont for the percentiles.

    The selected rows' values (NULL where a failure or an undefined metric leaves none) are
    worked out once per row in a subquery, which OFFSET 0 keeps PostgreSQL from merging into the
    aggregation: merged, each value's expression would run again for each of its six aggregates
    (a 1-day window of 86,400 results took 177 ms so, 138 ms as it is).
    """
    keys: list[Any] = []
    if query.group_by is not None:
        keys.append(_group_expression(query.group_by, postgres=True).label("group_key"))
    if query.bucket_width is not None:
        keys.append(_bucket_expression(query.bucket_width).label("bucket_key"))
    per_row: list[Any] = [*keys, _SUCCEEDED.label("succeeded")]
    per_row += [value.label(metric) for metric, value in _METRIC_EXPRESSIONS.items()]
    if query.objective is not None:
        # A NULL metric makes its bound NULL: the objective is not met.
        bounds = [results.c[metric] <= bound for metric, bound in query.objective.bounds().items()]
        per_row.append(and_(_SUCCEEDED, *bounds).label("met"))
    chosen = select(*per_row).where(*conditions(query.selection, postgres=True)).offset(0).subquery("chosen")
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


def group_count_statement(selection: ResultFilter, grouping: Grouping, at_most: int) -> Any:
    """PostgreSQL: how many groups (the null group included) the selected results fall into,
    counted no further than `at_most`.

    It reads the selected rows once, without the per-group sorts of percentile_cont that make
    summary_statement cost about 35 µs a group: it lets a store refuse too many groups first.
    """
    keys = (
        select(_group_expression(grouping, postgres=True).label("group_key"))
        .where(*conditions(selection, postgres=True))
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
