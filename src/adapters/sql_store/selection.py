"""SQL over `results` shared by both databases: the WHERE clauses of a selection, and its
results' metrics handed over row by row (for numpy to summarise).

Where the databases differ, in reading a label out of the labels' JSON, the caller passes its
dialect's LabelValue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import BigInteger, Text, false, literal, select

from src.adapters.column_statistics import Columns
from src.adapters.sql_store.schema import results
from src.domain.benchmark_result import STORED_METRICS
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.timestamps import microseconds_since_epoch

LabelValue = Callable[[str], Any]
"""A dialect's expression for the value of a label key as text, NULL when a result has no such label."""
LabelIs = Callable[[str, str], Any]
"""A dialect's condition that a result carries label key = value (one its indexes can serve)."""

Failed = npt.NDArray[np.bool_]
"""One flag per row of some Columns: True where the result failed (its metrics are not read)."""


class Selected(NamedTuple):
    """The selected results' metrics (one row each, NaN where undefined), which of them failed,
    their groups and their bucket indexes."""

    columns: Columns
    failed: Failed
    groups: list[str | None] | None
    buckets: npt.NDArray[np.int64] | None


_WIDTH = len(STORED_METRICS)


def split_rows(rows: list[tuple[Any, ...]], *, grouped: bool, bucketed: bool) -> Selected:
    """Rows of the metrics (None where undefined) and whether the result failed, then the group
    when `grouped`, then the bucket when `bucketed`."""
    # None becomes NaN; the failed flag (true or 1) becomes 1.0.
    block = np.array([row[: _WIDTH + 1] for row in rows] if grouped or bucketed else rows, dtype=np.float64)
    block = block.reshape(-1, _WIDTH + 1)
    groups = [row[_WIDTH + 1] for row in rows] if grouped else None
    buckets = np.fromiter((row[-1] for row in rows), dtype=np.int64, count=len(rows)) if bucketed else None
    return Selected(block[:, :_WIDTH], block[:, _WIDTH] != 0, groups, buckets)


def row_columns_statement(
    selection: ResultFilter,
    group_by: Grouping | None,
    bucket_width: int | None,
    label_value: LabelValue,
    label_is: LabelIs | None = None,
) -> Any:
    """The selected results' metrics and whether they failed, row by row, then their group and
    bucket when asked for (see split_rows)."""
    keys = []
    if group_by is not None:
        keys.append(group_expression(group_by, label_value))
    if bucket_width is not None:
        keys.append(bucket_expression(bucket_width))
    return select(*row_values(), *keys).where(*conditions(selection, label_value, label_is))


def row_values() -> list[Any]:
    """A row's metrics in STORED_METRICS order, then whether it failed."""
    return [*(results.c[metric] for metric in STORED_METRICS), results.c.error.is_not(None)]


def conditions(selection: ResultFilter, label_value: LabelValue, label_is: LabelIs | None = None) -> list[Any]:
    """WHERE clauses selecting `selection`'s results: every client text bound as a parameter.
    Labels are compared as `label_is` says, or as `label_value` reads them."""
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
    conditions += [
        label_value(key) == value if label_is is None else label_is(key, value) for key, value in selection.labels
    ]
    return conditions


def group_expression(grouping: Grouping, label_value: LabelValue) -> Any:
    """A result's group as text: its model, or the value of the grouping's label key."""
    if grouping.always_none:
        # As in conditions: a label key no result holds is not sent to the database, which may refuse it.
        return literal(None, Text)
    return results.c.model if grouping.label_key is None else label_value(grouping.label_key)


def bucket_expression(width: int) -> Any:
    """A result's bucket index: its microseconds since the epoch divided by `width`, rounded down."""
    at, width_value = results.c.recorded_at_us, literal(width, BigInteger)
    # A floor division, right for instants before 1970 too (SQL's "/" and "%" truncate toward zero).
    return (at - ((at % width_value) + width_value) % width_value) / width_value
