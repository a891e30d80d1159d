"""SqliteResultStore: the SQL store on SQLite (Python's own sqlite3), one file on local disk."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Connection, bindparam, select, text

from src.adapters.column_statistics import sorted_metric, summarize_columns
from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.rollups import add_to_rollups, whole_buckets
from src.adapters.sql_store.rows import as_result
from src.adapters.sql_store.schema import ROLLUP_WIDTHS, results
from src.adapters.sql_store.selection import Selected
from src.adapters.sql_store.sqlite.statistics import ADD_TO_PACKS, label_value, packed_columns, packs, repack
from src.application.ports.result_store import AddOutcome, SummaryKey, SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_columns import row_of
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.runs import RUN_LABEL
from src.domain.statistics import ResultSummary

_MINUTE = ROLLUP_WIDTHS[0]
_IDS_PER_STATEMENT = 30_000
"""Ids bound in one IN list: SQLite refuses a statement of more than 32,766 parameters as built
by default (some builds allow more), and an import's batch may hold more results."""


def _chunks(ids: list[str]) -> list[list[str]]:
    """`ids` in consecutive slices of at most _IDS_PER_STATEMENT."""
    return [ids[first : first + _IDS_PER_STATEMENT] for first in range(0, len(ids), _IDS_PER_STATEMENT)]


_ROWS_WITH_IDS = select(results).where(results.c.request_id.in_(bindparam("ids", expanding=True)))
_ADD_IDS_TO_ROLLUPS = text(add_to_rollups("results", "r.request_id IN :ids", ROLLUP_WIDTHS)).bindparams(
    bindparam("ids", expanding=True)
)


class SqliteResultStore(SqlStoreBase):
    """Results in SQLite, each minute's metrics also packed per model (result_packs) so that
    numpy summarises a window from a few blobs instead of its rows.

    Raises StoreUnavailable when the database cannot answer (see SqlStoreBase).
    """

    _RUN_CONDITION: ClassVar[str] = f"json_extract({{r}}.labels, '$.{RUN_LABEL}') = :run"

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        # SQLite has no percentile function: it hands over the columns, and numpy summarises them.
        selected = self._columns(query.selection, query.group_by, query.bucket_width)
        return summarize_columns(
            selected.columns,
            query.percentiles,
            query.objective,
            selected.groups,
            selected.buckets,
            failed=selected.failed,
        )

    def metric_values(self, selection: ResultFilter, metric: str) -> tuple[list[float], int]:
        selected = self._columns(selection, None, None)
        return sorted_metric(selected.columns, metric, failed=selected.failed)

    def _columns(self, selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None) -> Selected:
        # Packs know each result's minute and model only: label filters and groups read the rows.
        by_label = group_by is not None and group_by.label_key is not None
        if selection.labels or by_label:
            return self._row_columns(selection, group_by, bucket_width)
        return self._read(lambda connection: packed_columns(connection, selection, group_by, bucket_width))

    def _label_value(self, key: str) -> Any:
        return label_value(key)

    def _add(self, connection: Connection, batch: list[BenchmarkResult]) -> AddOutcome:
        stored = {
            result.request_id: result
            for ids in _chunks([result.request_id for result in batch])
            for result in map(as_result, connection.execute(_ROWS_WITH_IDS, {"ids": ids}))
        }
        clashing = [
            result.request_id
            for result in batch
            if result.request_id in stored and not result.same_content(stored[result.request_id])
        ]
        new = [result for result in batch if result.request_id not in stored]
        if new:
            placeholders = ", ".join("?" for _ in results.columns)
            connection.exec_driver_sql(f"INSERT INTO results VALUES ({placeholders})", [row_of(r) for r in new])
            for ids in _chunks([result.request_id for result in new]):
                connection.execute(_ADD_IDS_TO_ROLLUPS, {"ids": ids})
            connection.exec_driver_sql(ADD_TO_PACKS, packs(new))
        return AddOutcome(len(new), len(batch) - len(new) - len(clashing), tuple(clashing))

    def _deleted(self, connection: Connection, first_us: int, last_us: int) -> None:
        # The deleted results' minutes are packed again from the results left in them.
        repack(connection, *whole_buckets(first_us, last_us + 1, _MINUTE))
