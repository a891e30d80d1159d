"""PostgreSQL's bulk path for a batch of new results: COPY into a staging table, then one statement.

The statement inserts what is new, skips what is already stored, and adds the new results to the
rollups from the rows it just inserted, so nothing is looked up twice. Only when some results were
skipped are they compared with what is stored, in a fresh snapshot that also sees results that
concurrent writers committed meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from src.adapters.sql_store.rollups import add_to_rollups
from src.adapters.sql_store.schema import ROLLUP_WIDTHS, results
from src.domain.benchmark_result import STORED_METRICS

_NAMES = [column.name for column in results.columns]
_COLUMNS = ", ".join(_NAMES)
_CONTENT = ", ".join(f"{{side}}.{name}" for name in _NAMES if name != "request_id")

# Statements built from the schema's own column names and constants; every value travels as a parameter.
STAGING = "CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE results) ON COMMIT DELETE ROWS"
COPY = f"COPY incoming ({_COLUMNS}) FROM STDIN"
INGEST = f"""
WITH inserted AS (
    INSERT INTO results SELECT {_COLUMNS} FROM incoming ORDER BY request_id
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id, recorded_at_us, {", ".join(STORED_METRICS)}, error
), rolled_up AS ({add_to_rollups("inserted", "true", ROLLUP_WIDTHS)})
SELECT (SELECT count(*) FROM inserted),
    ARRAY(SELECT request_id FROM incoming EXCEPT SELECT request_id FROM inserted)
"""
CLASHING = f"""
SELECT i.request_id FROM incoming i JOIN results r USING (request_id)
WHERE i.request_id = ANY(%(skipped)s)
    AND ({_CONTENT.format(side="i")}) IS DISTINCT FROM ({_CONTENT.format(side="r")})
ORDER BY i.request_id
"""


def add_rows(cursor: psycopg.Cursor[Any], rows: Sequence[tuple[Any, ...]]) -> tuple[int, list[str], list[str]]:
    """Store the rows that are new; how many were, the request_ids that were already stored (not
    stored again), and those of them stored with other content."""
    cursor.execute(STAGING)
    with cursor.copy(COPY) as copy:
        for row in rows:
            copy.write_row(row)
    stored, skipped = cursor.execute(INGEST).fetchone() or (0, [])
    if not skipped:
        return stored, [], []
    return stored, skipped, [request_id for (request_id,) in cursor.execute(CLASHING, {"skipped": skipped})]
