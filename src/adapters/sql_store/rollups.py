"""Rollups: how a window splits into raw rows at its edges and whole buckets inside, and how new
results are added to the buckets.

Each level's buckets are aligned to multiples of its width (from the Unix epoch, in UTC), and
each width divides the next, so a window [low, high) is: raw rows up to the first whole minute,
whole minutes up to the first whole hour, and so on inward, mirrored at the far edge.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.adapters.sql_store.schema import COUNTED_METRICS
from src.domain.benchmark_result import METRICS

Span = tuple[int, int]
"""A half-open range [first, past_last) of microseconds or of bucket starts; empty when equal."""

NOTHING: Span = (0, 0)


@dataclass(frozen=True)
class WindowPieces:
    raw: tuple[Span, Span]
    """Ranges of timestamps read from the results themselves."""
    buckets: tuple[tuple[Span, Span], ...]
    """Per rollup width, in the order of the widths: ranges of bucket starts."""


def split_window(low: int, high: int, widths: tuple[int, ...]) -> WindowPieces:
    """The pieces of the half-open window [low, high) of microseconds."""
    first_whole, past_whole = _ceil(low, widths[0]), _floor(high, widths[0])
    if first_whole >= past_whole:
        return WindowPieces(((low, high), NOTHING), tuple((NOTHING, NOTHING) for _ in widths))
    buckets: list[tuple[Span, Span]] = []
    for coarser in (*widths[1:], None):
        if coarser is not None:
            inner_first, inner_past = _ceil(first_whole, coarser), _floor(past_whole, coarser)
            if inner_first < inner_past:
                buckets.append(((first_whole, inner_first), (inner_past, past_whole)))
                first_whole, past_whole = inner_first, inner_past
                continue
        buckets.append(((first_whole, past_whole), NOTHING))
        break
    buckets.extend((NOTHING, NOTHING) for _ in range(len(widths) - len(buckets)))
    return WindowPieces(((low, _ceil(low, widths[0])), (_floor(high, widths[0]), high)), tuple(buckets))


def whole_buckets(low: int, high: int, width: int) -> Span:
    """[low, high) widened to whole buckets of `width`: from the start of the bucket holding `low`
    to the end of the one holding `high - 1` (microseconds)."""
    return _floor(low, width), _ceil(high, width)


def _floor(value: int, width: int) -> int:
    return value - value % width  # Python's % is a floor modulo, right for times before 1970 too


def _ceil(value: int, width: int) -> int:
    return -_floor(-value, width)


def add_to_rollups(source: str, condition: str, widths: tuple[int, ...], *, part: str | None = None) -> str:
    """SQL that adds the rows of `source` (a table or CTE name) meeting `condition` to every
    width's buckets, in bucket order so that concurrent writers lock rollup rows in one order.
    A failed result (its error not NULL) is counted as failed only; a success adds each metric
    it has to that metric's sum and count. With `part` (an SQL expression, PostgreSQL's rollups
    in parts), the sums are appended as a new part of each bucket, numbered `part`, not added in place.

    Built from constants only; `condition` may name bound parameters. PostgreSQL and SQLite
    both take it (SQLite needs the WHERE clause to read ON CONFLICT as an upsert).
    """
    all_widths = " UNION ALL ".join(f"SELECT {width} AS width_us" for width in widths)
    succeeded = "FILTER (WHERE r.error IS NULL)"
    columns = {
        "result_count": f"count(*) {succeeded}",
        **{f"sum_{m}": f"coalesce(sum(r.{m}) {succeeded}, 0)" for m in (*METRICS, "prompt_token_count")},
        **{f"count_{m}": f"count(r.{m}) {succeeded}" for m in COUNTED_METRICS},
        "failed_count": "count(*) FILTER (WHERE r.error IS NOT NULL)",
    }
    values = list(columns.values())
    if part is None:
        names, ending = (
            list(columns),
            "ON CONFLICT (width_us, bucket_start_us) DO UPDATE SET "
            + ", ".join(f"{name} = result_rollups.{name} + excluded.{name}" for name in columns),
        )
    else:
        names, values, ending = [*columns, "part"], [*values, part], ""
    return f"""
    INSERT INTO result_rollups (width_us, bucket_start_us, {", ".join(names)})
    SELECT w.width_us, r.recorded_at_us - ((r.recorded_at_us % w.width_us) + w.width_us) % w.width_us,
        {", ".join(values)}
    FROM {source} r CROSS JOIN ({all_widths}) w
    WHERE {condition}
    GROUP BY 1, 2
    ORDER BY 1, 2
    {ending}
    """
