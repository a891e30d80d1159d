"""PostgreSQL: statistics read from summaries kept per series and rollup bucket, not from rows.

A series is a set of results a request can name without reading them: every result (dimension
"", value ""), one model (dimension "model"), or one label's value (dimension "label:<key>").
Per series and bucket (WIDTHS: the averages' rollup widths from the hour up), `result_summaries`
holds the encoded Summaries of its results (see metric_summaries): exact counts and moments, and
DDSketch bins for the percentiles, in one or more parts that readers merge (summary_parts writes
and compacts them).

A window is then some raw rows at its edges (less than an hour at each end) and whole buckets
inside, at most 2*23 hours, 2*29 days and its 30-day buckets; a time series splits each of its
buckets so. Reading a year costs about as much as reading a day. Grouped by model or by a label,
the results without one are no series: when a window holds any, they are read row by row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import Connection, and_, false, func, or_

from src.adapters.metric_summaries import (
    RELATIVE_ACCURACY,
    concatenate,
    decode,
    merge,
    metric_columns,
    metric_stats,
    result_count,
    select,
    summarize_rows,
)
from src.adapters.sql_store.postgres.statistics import label_is, label_present, label_value
from src.adapters.sql_store.rollups import split_window
from src.adapters.sql_store.schema import ROLLUP_WIDTHS, results
from src.adapters.sql_store.selection import Selected, conditions, row_columns_statement, split_rows
from src.application.ports.result_store import SummaryKey, SummaryQuery
from src.domain.result_selection import Grouping
from src.domain.statistics import ResultSummary, refuse_oversized_answer
from src.domain.timestamps import microseconds_since_epoch

WIDTHS = ROLLUP_WIDTHS[1:]
"""The summaries' bucket widths: the rollups' from the hour up. A minute's summary held one or two
results of a year's data (31 s apart) for some 400 bytes, and made each result cost the insert of
two rows: without it a window's edges are read as rows up to its first whole hour instead."""

Series = tuple[str, str]
"""(dimension, value)."""
EVERY_RESULT: Series = ("", "")
MODEL = "model"
LABEL = "label:"

_READ = """
    SELECT s.value, s.bucket_start_us, s.summary
    FROM unnest(%(widths)s::bigint[], %(firsts)s::bigint[], %(pasts)s::bigint[]) AS r(w, f, p)
    CROSS JOIN LATERAL (
        SELECT value, bucket_start_us, summary FROM result_summaries
        WHERE dimension = %(dimension)s AND width_us = r.w AND bucket_start_us >= r.f AND bucket_start_us < r.p
            {value}
        OFFSET 0
    ) s
"""
"""The stored summaries of a dimension in ranges of buckets: one index range scan per range. As a
plain join, or a LATERAL one that PostgreSQL may flatten into a join (which OFFSET 0 prevents),
it scanned the whole table instead (52 ms for a year's days)."""


SPAN = "SELECT min(recorded_at_us), max(recorded_at_us) + 1 FROM results"
"""The span [first, past) of the stored results, in microseconds: two index lookups."""


LONGEST_SERIES_VALUE = 1_500
"""A label value longer than this (UTF-8 bytes) names no series: its results are read as rows. A
key of the summaries' index holds at most 2,704 bytes, which a label key of 128 characters and a
value of 1,024 characters of CJK text (3 bytes each) would pass: such a write failed."""


def names_a_series(value: str) -> bool:
    """Whether a label value is short enough to name a series (LONGEST_SERIES_VALUE)."""
    return len(value.encode()) <= LONGEST_SERIES_VALUE


def series_of(model: str | None, labels: Mapping[str, str]) -> list[Series]:
    """Every series a result of this model and labels belongs to."""
    named = [(MODEL, model)] if model is not None else []
    return [EVERY_RESULT, *named, *((LABEL + key, value) for key, value in labels.items() if names_a_series(value))]


@dataclass(frozen=True)
class _Plan:
    """Where a query's answer comes from: `dimension` rows (of `value`, or of every value when
    grouping), bucket ranges per width, raw spans of microseconds, and the answer's bucket width."""

    dimension: str
    value: str | None
    widths: list[int]
    firsts: list[int]
    pasts: list[int]
    raw: list[tuple[int, int]]
    bucket_width: int | None


def plan(query: SummaryQuery, stored: tuple[int, int]) -> _Plan | None:
    """How `query` is answered from summaries, its window (or all time) limited to `stored`, the
    span [first, past) of the stored results; None when it cannot be (a model and a label, two
    labels, or a filter with a grouping: those read rows)."""
    selection = query.selection
    if selection.selects_nothing:
        return None
    filters = ([(MODEL, selection.model)] if selection.model is not None else []) + [
        (LABEL + key, value) for key, value in selection.labels
    ]
    if not all(names_a_series(value) for _, value in selection.labels):
        return None
    if query.group_by is not None:
        if filters or query.group_by.always_none:
            return None
        dimension, value = _grouped(query.group_by), None
    elif len(filters) > 1:
        return None
    else:
        dimension, value = filters[0] if filters else EVERY_RESULT
    low, high = stored
    if selection.window is not None:
        low = max(low, microseconds_since_epoch(selection.window.start))
        high = min(high, microseconds_since_epoch(selection.window.end) + 1)
    # An empty window still plans: no range to read, and the answer is empty.
    high = max(low, high)
    widths, firsts, pasts, raw = [], [], [], []
    for first, past in _answer_buckets(low, high, query.bucket_width):
        pieces = split_window(first, past, WIDTHS)
        raw += [span for span in pieces.raw if span[0] < span[1]]
        for width, spans in zip(WIDTHS, pieces.buckets, strict=True):
            for start, end in spans:
                if start < end:
                    widths.append(width)
                    firsts.append(start)
                    pasts.append(end)
    return _Plan(dimension, value, widths, firsts, pasts, _coalesced(raw), query.bucket_width)


def _grouped(grouping: Grouping) -> str:
    return MODEL if grouping.label_key is None else LABEL + grouping.label_key


def _answer_buckets(low: int, high: int, width: int | None) -> Iterator[tuple[int, int]]:
    """The window [low, high) cut at the answer's bucket bounds."""
    if low >= high:
        return
    if width is None:
        yield low, high
        return
    for bucket in range(low // width, (high - 1) // width + 1):
        yield max(low, bucket * width), min(high, (bucket + 1) * width)


def _coalesced(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    joined: list[tuple[int, int]] = []
    for first, past in sorted(spans):
        if joined and joined[-1][1] >= first:
            joined[-1] = (joined[-1][0], max(joined[-1][1], past))
        else:
            joined.append((first, past))
    return joined


def summarize(
    connection: Connection, query: SummaryQuery, found: _Plan, exact_at_most: int
) -> dict[SummaryKey, ResultSummary] | None:
    """The answer from summaries, or None when the selection holds at most `exact_at_most` results
    (which the caller then summarises exactly, row by row).

    Grouped by a label, the results without it (the None group) have no series: when the window
    holds any, they are read row by row, which costs a scan of the window.
    """
    stored = _read(connection, found, found.dimension, found.value)
    every = _read(connection, found, *EVERY_RESULT) if found.value is None else None
    blobs = [blob for _, _, blob in stored]
    edges = _edge_rows(connection, query, found, without_label=False)
    # Results in whole buckets: of every result when grouping (the groups may leave some out).
    in_buckets = result_count([blob for _, _, blob in every] if every is not None else blobs)
    total = len(edges.columns) + in_buckets
    if total <= exact_at_most:
        return None
    answer_keys: dict[SummaryKey, int] = {}

    def target(group: str | None, at: int) -> int:
        bucket = None if found.bucket_width is None else at // found.bucket_width
        return answer_keys.setdefault((group, bucket), len(answer_keys))

    grouped = found.value is None
    targets = [target(value if grouped else None, start) for value, start, _ in stored]
    parts = [decode(blobs)]
    if every is not None and in_buckets > result_count(blobs):
        # Some results in whole buckets lack the label: read them all, the edges' ones included.
        edges = _edge_rows(connection, query, found, without_label=True)
    if len(edges.columns):
        groups = edges.groups if edges.groups is not None else [None] * len(edges.columns)
        buckets = edges.buckets if edges.buckets is not None else np.zeros(len(edges.columns), np.int64)
        width = found.bucket_width or 1
        rows = np.array([target(group, bucket * width) for group, bucket in zip(groups, buckets.tolist(), strict=True)])
        # Summarised per answer bucket, not per row (a part per row made merging sort every bin).
        part = summarize_rows(metric_columns(edges.columns), edges.failed, rows, len(answer_keys))
        holding = np.flatnonzero(part.count + part.failed)
        parts.append(select(part, holding))
        targets += holding.tolist()
    summaries = concatenate(parts)
    refuse_oversized_answer(len({group for group, _ in answer_keys}), len(answer_keys))
    merged = merge(summaries, np.array(targets, np.int64), len(answer_keys))
    stats, counts, failures = metric_stats(merged, query.percentiles), merged.count.tolist(), merged.failed.tolist()
    return {
        key: ResultSummary(counts[position], stats[position], None, failures[position], RELATIVE_ACCURACY)
        for key, position in answer_keys.items()
        if counts[position] or failures[position]
    }


def _read(connection: Connection, found: _Plan, dimension: str, value: str | None) -> list[tuple[str, int, bytes]]:
    """The stored summaries of the plan's bucket ranges: (value, bucket start, summary) rows of
    `dimension`, of one `value` or of all."""
    if not found.widths:
        return []
    statement = _READ.format(value="" if value is None else "AND value = %(value)s")
    parameters = {
        "widths": found.widths,
        "firsts": found.firsts,
        "pasts": found.pasts,
        "dimension": dimension,
        "value": value,
    }
    # In binary, the summaries come as they are stored; as text, each byte as two hex digits
    # that psycopg then parses (a year's days: 21 ms instead of 31).
    driver = connection.connection.driver_connection
    return driver.execute(statement, parameters, binary=True).fetchall()  # type: ignore[union-attr, no-any-return]


def _edge_rows(connection: Connection, query: SummaryQuery, found: _Plan, *, without_label: bool) -> Selected:
    """The selected results in the plan's raw spans, with their group and bucket; with
    `without_label`, those spans' rows with the grouping's label (or model) and every row of the
    window without it."""
    grouped, bucketed = query.group_by is not None, found.bucket_width is not None
    at = results.c.recorded_at_us
    spans = [and_(at >= first, at < past) for first, past in found.raw]
    if without_label:
        assert query.group_by is not None
        window = conditions(query.selection, label_value, label_is)
        key = query.group_by.label_key
        # Results whose value names no series (too long) are read as rows, as those without one.
        has_label = (
            results.c.model.is_not(None)
            if key is None
            else and_(label_present(key), func.octet_length(label_value(key)) <= LONGEST_SERIES_VALUE)
        )
        where = or_(and_(has_label, or_(*spans)) if spans else false(), and_(~has_label, *window))
    elif spans:
        where = or_(*spans)
    else:
        return split_rows([], grouped=grouped, bucketed=bucketed)
    selection = replace(query.selection, window=None)
    statement = row_columns_statement(selection, query.group_by, found.bucket_width, label_value, label_is)
    rows = list(connection.execute(statement.where(where)).cursor.fetchall())
    return split_rows(rows, grouped=grouped, bucketed=bucketed)
