"""How SQLite answers statistics. It has no percentile function, so numpy summarises: from the
packed minutes of result_packs (one blob of float64 metrics per minute and model) where packs can
answer, from the rows where they cannot (label filters and groups)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, false, func, or_, select

from src.adapters.sql_store.rollups import split_window
from src.adapters.sql_store.rows import as_result
from src.adapters.sql_store.schema import NO_MODEL, ROLLUP_WIDTHS, result_packs, results
from src.adapters.sql_store.selection import Selected, row_values, split_rows
from src.domain.benchmark_result import STORED_METRICS, BenchmarkResult
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.timestamps import microseconds_since_epoch

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


def packed_columns(
    connection: Connection, selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None
) -> Selected:
    """The window's whole minutes from their packs, and the rows of the partial minutes at
    its edges. The two never overlap, so no result is counted twice. A pack's failed results,
    which it only counts, are rows of NaN marked failed, after every pack's successes."""
    at = results.c.recorded_at_us
    packs = select(result_packs.c.minute_start_us, result_packs.c.model, result_packs.c.metrics, result_packs.c.failed)
    edges = select(*row_values(), results.c.model, at)
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
    found = connection.execute(packs).cursor.fetchall()  # as in SqlStoreBase._row_columns: many rows, no Row objects
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


def label_value(key: str) -> Any:
    """The value of label `key` as text, NULL when the result has no such label."""
    # SQLite's JSON paths cannot name a key holding a double quote or a backslash; its json_each
    # compares keys as plain strings and so finds any of them.
    label = func.json_each(results.c.labels).table_valued("key", "value").alias("label")
    return select(label.c.value).where(label.c.key == key).scalar_subquery()


def repack(connection: Connection, low: int, high: int) -> None:
    """Pack the minutes [low, high) of microseconds since the epoch anew from the results they hold."""
    connection.execute(
        result_packs.delete().where(result_packs.c.minute_start_us >= low, result_packs.c.minute_start_us < high)
    )
    at = results.c.recorded_at_us
    rows = packs([as_result(row) for row in connection.execute(select(results).where(at >= low, at < high))])
    if rows:
        connection.exec_driver_sql(ADD_TO_PACKS, rows)
