"""PostgreSQL's bulk path for a batch of new results: COPY straight into `results`, and the batch
read as columns for its rollups and summaries.

A batch of new results (an import's usual case) is copied into the table as a raw COPY would
be: no staging table, no per-row conflict check. When some id is already stored (a repeated
import, or a concurrent writer that stored it first), the unique index refuses the COPY; it is
rolled back to a savepoint and the batch goes the careful way: COPY into a staging table, then
one INSERT that skips what is stored. Only then are the skipped results compared with what is
stored, in a fresh snapshot that also sees results that concurrent writers committed meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import errors, postgres
from psycopg.abc import Buffer
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import JSON, BigInteger, Float

from src.adapters.sql_store.schema import results
from src.domain.benchmark_result import STORED_METRICS
from src.domain.result_columns import ResultColumns

_NAMES = [column.name for column in results.columns]
_AT, _ERROR = _NAMES.index("recorded_at_us"), _NAMES.index("error")
_METRICS_OF_ROW = itemgetter(*(_NAMES.index(name) for name in STORED_METRICS))
_COLUMNS = ", ".join(_NAMES)
_CONTENT = ", ".join(f"{{side}}.{name}" for name in _NAMES if name != "request_id")

# Statements built from the schema's own column names and constants; every value travels as a parameter.
# Binary COPY: a row costs the client half of what the text form's formatting does, and the
# server parses no number.
DIRECT = f"COPY results ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
STAGING = "CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE results) ON COMMIT DELETE ROWS"
COPY = f"COPY incoming ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
INSERT_NEW = f"""
WITH inserted AS (
    INSERT INTO results SELECT {_COLUMNS} FROM incoming ORDER BY request_id
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
)
SELECT ARRAY(SELECT request_id FROM incoming EXCEPT SELECT request_id FROM inserted)
"""
CLASHING = f"""
SELECT i.request_id FROM incoming i JOIN results r USING (request_id)
WHERE i.request_id = ANY(%(skipped)s)
    AND ({_CONTENT.format(side="i")}) IS DISTINCT FROM ({_CONTENT.format(side="r")})
ORDER BY i.request_id
"""

_SAVEPOINT = "SAVEPOINT direct_copy"
_ROLLBACK = "ROLLBACK TO SAVEPOINT direct_copy"


def _copy_type(column: Any) -> str:
    """The PostgreSQL type whose binary form COPY sends for a column of `results`."""
    kind = column.type
    if isinstance(kind, JSON):
        return "jsonb"
    if isinstance(kind, BigInteger):
        return "int8"
    return "float8" if isinstance(kind, Float) else "text"


_COPY_TYPES = [_copy_type(column) for column in results.columns]
_JSONB_VERSION = b"\x01"
"""The first byte of jsonb's binary form (PostgreSQL's jsonb_recv): the text follows it."""


class _JsonTextDumper(Dumper):
    """A row's labels, already canonical JSON text, as jsonb's binary form (psycopg's own jsonb
    dumper would encode the text again, as a JSON string)."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> Buffer:
        return _JSONB_VERSION + obj.encode()


def _copy_rows(cursor: psycopg.Cursor[Any], statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    # Only where the type is named (COPY's set_types): every other str is dumped as psycopg does.
    cursor.adapters.register_dumper(None, _JsonTextDumper)
    with cursor.copy(statement) as copy:
        copy.set_types(_COPY_TYPES)
        for row in rows:
            copy.write_row(row)


def add_rows(cursor: psycopg.Cursor[Any], rows: Sequence[tuple[Any, ...]]) -> tuple[int, list[str], list[str]]:
    """Store the rows (row_of's tuples, in request_id order) that are new; how many were, the
    request_ids that were already stored (not stored again), and those of them stored with
    other content. Raises psycopg's errors; a concurrent writer's id met on the careful way is an
    IntegrityError the caller retries."""
    cursor.execute(_SAVEPOINT)
    try:
        _copy_rows(cursor, DIRECT, rows)
    except errors.UniqueViolation:
        cursor.execute(_ROLLBACK)
    else:
        return len(rows), [], []
    cursor.execute(STAGING)
    _copy_rows(cursor, COPY, rows)
    (skipped,) = cursor.execute(INSERT_NEW).fetchone() or ([],)
    if not skipped:
        return len(rows), [], []
    clashing = [request_id for (request_id,) in cursor.execute(CLASHING, {"skipped": skipped})]
    return len(rows) - len(skipped), skipped, clashing


@dataclass(frozen=True)
class BatchColumns:
    """A batch's rows (row_of's tuples) as columns: per row, `at` its instant (microseconds since
    the epoch), `stored` its STORED_METRICS (N x 5, NaN where undefined), `failed` its flag. Read
    once, for the rollups and the summaries: a few numpy calls instead of reads per result."""

    at: npt.NDArray[np.int64]
    stored: npt.NDArray[np.float64]
    failed: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, rows: Sequence[tuple[Any, ...]]) -> BatchColumns:
        count = len(rows)
        stored = np.array(list(map(_METRICS_OF_ROW, rows)), dtype=np.float64).reshape(count, len(STORED_METRICS))
        at = np.fromiter((row[_AT] for row in rows), np.int64, count)
        failed = np.fromiter((row[_ERROR] is not None for row in rows), bool, count)
        return cls(at, stored, failed)

    @classmethod
    def from_columns(cls, columns: ResultColumns) -> BatchColumns:
        """The same, from the batch's columns (numpy reads None as NaN in a float array)."""
        stored = np.column_stack([np.array(getattr(columns, name), dtype=np.float64) for name in STORED_METRICS])
        at = np.array(columns.recorded_at_us, dtype=np.int64)
        failed = np.fromiter((error is not None for error in columns.error), bool, len(at))
        return cls(at, stored.reshape(len(at), len(STORED_METRICS)), failed)
