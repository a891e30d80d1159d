"""The window averages' one statement: rollup buckets inside the window, raw rows at its edges.

Both databases run it as it is; PostgreSQL also runs it compiled, straight through psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, and_, bindparam, cast, func, or_, select, union_all

from src.adapters.sql_store.rollups import split_window
from src.adapters.sql_store.schema import ROLLUP_WIDTHS, result_rollups, results
from src.domain.benchmark_result import METRICS
from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch

# Every instant of the years 1 to 9999 lies inside, and both ends are whole buckets of every width.
_ALL_TIME = (-(ROLLUP_WIDTHS[-1] * 10**5), ROLLUP_WIDTHS[-1] * 10**5)
# The averaged metrics a success may lack; it always has the others (see window_aggregate).
_SOMETIMES_UNDEFINED = ("time_to_first_token", "time_per_output_token")


def window_parameters(window: TimeWindow | None) -> dict[str, int]:
    """The bound parameters of window_sums_statement for `window` (all time if None): the first
    and past-last microsecond of each piece's two spans."""
    low, high = _ALL_TIME
    if window is not None:
        low, high = microseconds_since_epoch(window.start), microseconds_since_epoch(window.end) + 1
    pieces = split_window(low, high, ROLLUP_WIDTHS)
    parameters: dict[str, int] = {}
    for name, spans in [("raw", pieces.raw), *((str(level), spans) for level, spans in enumerate(pieces.buckets))]:
        for side, (first, past) in enumerate(spans):
            parameters |= {f"first_{name}_{side}": first, f"past_{name}_{side}": past}
    return parameters


def window_aggregate(row: Sequence[Any]) -> ResultAggregate:
    """The row of window_sums_statement as an aggregate."""
    count, *sums, first_tokens, per_output_tokens, failed = row
    if not count and not failed:
        return ResultAggregate()
    # Every success has its token_count and total_generation_time.
    counts = (count, first_tokens, per_output_tokens, count)
    return ResultAggregate.from_sums(int(count), map(float, sums), map(int, counts), int(failed))


def window_sums_statement() -> Any:
    """One statement for any window: the raw rows at both edges, then per width the buckets at both edges.

    Its shape never changes (an empty piece is an empty range), so the database plans it once.
    """

    def sums(*columns: Any, where: Any) -> list[Any]:
        return [cast(func.sum(column).filter(where), Float(53)) for column in columns]

    def between(column: Any, name: str) -> Any:
        """Inside either of the two spans `name` covers (see window_parameters)."""
        return or_(
            *(
                and_(column >= bindparam(f"first_{name}_{side}"), column < bindparam(f"past_{name}_{side}"))
                for side in (0, 1)
            )
        )

    succeeded = results.c.error.is_(None)
    # Each piece gives, in this order: successes, the metric sums over them, how many of them
    # have TTFT and TPOT, and failures (see window_aggregate).
    raw = select(
        func.count().filter(succeeded).label("result_count"),
        *sums(*(results.c[metric] for metric in METRICS), where=succeeded),
        *(func.count(results.c[metric]).filter(succeeded) for metric in _SOMETIMES_UNDEFINED),
        func.count().filter(~succeeded),
    ).where(between(results.c.recorded_at_us, "raw"))
    levels = [
        select(
            *(func.sum(result_rollups.c[name]) for name in ("result_count", *(f"sum_{metric}" for metric in METRICS))),
            *(func.sum(result_rollups.c[f"count_{metric}"]) for metric in _SOMETIMES_UNDEFINED),
            func.sum(result_rollups.c.failed_count),
        ).where(result_rollups.c.width_us == width, between(result_rollups.c.bucket_start_us, str(level)))
        for level, width in enumerate(ROLLUP_WIDTHS)
    ]
    # One row out: the pieces are added in the database, not handed to Python one by one.
    pieces = union_all(raw, *levels).subquery()
    return select(*(func.coalesce(func.sum(column), 0) for column in pieces.columns))
