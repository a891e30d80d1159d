"""PostgreSQL: the rollups' sums written in parts, merged by compaction (migration 0007).

A write appends, per bucket it touches, a row of its own results' sums numbered after its
transaction (pg_current_xact_id: 64 bits, never reused; a transaction appends at most one row a
bucket), without reading or locking a stored row. Every reader already adds buckets up
(window_sums, the averages' copy), so a bucket's parts add up with them. `merge` replaces a
bucket's parts by their sum. A run's deletion sums its buckets anew from the results that remain
(SqlStoreBase._rebuild_rollups), one part each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from src.adapters.sql_store.postgres.binary_copy import Rows, empty_rows, encoded, row_type
from src.adapters.sql_store.postgres.ingest import BatchColumns
from src.adapters.sql_store.schema import COUNTED_METRICS, ROLLUP_WIDTHS
from src.domain.benchmark_result import METRICS, STORED_METRICS

APPENDED_PART = "pg_current_xact_id()::text::bigint"
"""The number of the parts a transaction appends (SQL)."""

# The rollups' summed columns, in the order of their arrays; then how many of the successes have
# each metric some lack, and the failures. Built from constants.
_SUMMED = (*METRICS, "prompt_token_count")
COLUMNS = (
    "result_count",
    *(f"sum_{metric}" for metric in _SUMMED),
    *(f"count_{metric}" for metric in COUNTED_METRICS),
    "failed_count",
)
"""A rollup row's columns besides its key (width_us, bucket_start_us, part), each added up over parts."""
_KEYS = ("width_us", "bucket_start_us", "part")
# Each column's big-endian form in COPY's binary format (">i8" bigint, ">f8" double precision).
_FORMS = {
    **{name: ">i8" for name in (*_KEYS, *COLUMNS)},
    **{f"sum_{metric}": ">f8" for metric in _SUMMED},
}
_NAMES = (*_KEYS, *COLUMNS)
_ROW = row_type([(name, _FORMS[name]) for name in _NAMES])
_PART = f"SELECT {APPENDED_PART}"
_APPEND = f"COPY result_rollups ({', '.join(_NAMES)}) FROM STDIN (FORMAT BINARY)"
_SUMS = ", ".join(f"sum({name} ORDER BY part)" for name in COLUMNS)
# Built from constants. The crowded buckets are read in the statement's snapshot: parts that
# writers commit meanwhile are neither read nor deleted, and stay for the next merge. Added up in
# part order (transaction order), as the upserts added each write to the bucket's running sums.
# The merge is the compacting transaction's one part of each bucket it merges.
_MERGE = f"""
    WITH crowded AS (
        SELECT width_us, bucket_start_us FROM result_rollups GROUP BY 1, 2 HAVING count(*) > %(crowded)s
    ), merged AS (
        DELETE FROM result_rollups r USING crowded c
        WHERE (r.width_us, r.bucket_start_us) = (c.width_us, c.bucket_start_us)
        RETURNING r.*
    ), appended AS (
        INSERT INTO result_rollups (width_us, bucket_start_us, part, {", ".join(COLUMNS)})
        SELECT width_us, bucket_start_us, {APPENDED_PART}, {_SUMS} FROM merged GROUP BY 1, 2
    )
    SELECT count(*) FROM merged
"""
CROWDED_PARTS = 16
"""Compaction merges the rollup buckets holding more than this many parts. A year's results in
random order leave some 2 parts a minute (a part per result, nearly: each minute's few results
come in different batches) and 68 an hour: merging every bucket of several parts took 10.2 s
for 1,470,000 parts, those of more than 16 parts 3.5 s (the hours', days' and months'). A window
reads at most 2·59 minute buckets, so their few parts cost readers little."""


def merge(driver: Any) -> int:
    """Merge the parts of every rollup bucket holding more than CROWDED_PARTS into one; how many
    parts were merged. In the caller's transaction, which must hold the summaries' compaction
    lock (summary_parts), so that no other merge and no run's deletion runs beside it."""
    ((merged,),) = driver.execute(_MERGE, {"crowded": CROWDED_PARTS}).fetchall()
    return int(merged)


def add_results(cursor: psycopg.Cursor[Any], batch: BatchColumns) -> None:
    """Append new results to every width's rollup buckets: a part per bucket the batch touches,
    in one binary COPY. As add_to_rollups in SQL: a failure is counted only; a success adds each
    metric it has to that metric's sum and count.

    The rows are laid out by numpy in one buffer: as array parameters, psycopg dumped each of
    their some 60,000 numbers in Python (4 us a result).
    """
    at, stored, failed = batch.at, batch.stored, batch.failed
    if not len(at):
        return
    ((part,),) = cursor.execute(_PART).fetchall()
    succeeded = ~failed
    summed = [stored[:, STORED_METRICS.index(metric)] for metric in _SUMMED]
    counted = [stored[:, STORED_METRICS.index(metric)] for metric in COUNTED_METRICS]
    parts: list[Rows] = []
    for width in ROLLUP_WIDTHS:
        # numpy's % is a floor modulo, as the SQL form's double modulo is: right before 1970 too.
        starts, bucket = np.unique(at - at % width, return_inverse=True)
        rows = empty_rows(len(starts), _ROW)
        rows["width_us"], rows["bucket_start_us"], rows["part"] = width, starts, part
        rows["result_count"] = np.bincount(bucket[succeeded], minlength=len(starts))
        for metric, values in zip(_SUMMED, summed, strict=True):
            # Added in the batch's order from 0.0, as PostgreSQL's sum adds its rows; 0.0 adds nothing.
            weights = np.where(succeeded & ~np.isnan(values), values, 0.0)
            rows[f"sum_{metric}"] = np.bincount(bucket, weights=weights, minlength=len(starts))
        for metric, values in zip(COUNTED_METRICS, counted, strict=True):
            rows[f"count_{metric}"] = np.bincount(bucket[succeeded & ~np.isnan(values)], minlength=len(starts))
        rows["failed_count"] = np.bincount(bucket[failed], minlength=len(starts))
        parts.append(rows)
    with cursor.copy(_APPEND) as copy:
        copy.write(encoded(parts))
