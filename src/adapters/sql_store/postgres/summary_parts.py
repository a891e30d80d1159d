"""PostgreSQL: the statistics' summaries written in parts, merged by compaction, rebuilt after a deletion.

Every insert appends, per series and bucket it touches (see summaries), a part holding its own
results, without reading or rewriting what is stored: writers run side by side. `compact` merges
a bucket's parts into one, which the store does after a number of writes and when an import
ends, so that readers merge few. This is the scheme of ClickHouse's AggregatingMergeTree:
partial aggregate states appended per insert, merged later. Deleting a run rebuilds the buckets
it touched from the results that remain, since a minimum cannot be taken out.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from src.adapters.metric_summaries import Ints, Summaries, decode, encode, merge, metric_columns, summarize_rows
from src.adapters.sql_store.postgres.ingest import BatchColumns
from src.adapters.sql_store.postgres.summaries import WIDTHS, Series, series_of
from src.adapters.sql_store.rollups import whole_buckets
from src.adapters.sql_store.schema import results
from src.domain.benchmark_result import STORED_METRICS

Described = tuple[str | None, Hashable]
"""A result's model and its labels in some hashable form (JSON text, or the items of a mapping)."""

# A bucket index fits in 40 bits at every width (minutes of 10,000 years are 2^32.3).
_BUCKET_BITS = 40
_REBUILD_ROWS = 50_000
"""Rows read at a time when buckets are rebuilt from the results."""


_KEY_COLUMNS = "dimension, width_us, bucket_start_us, value"
"""A bucket's key, in the order of the table's primary key (then `part`): a dimension's buckets of
one width lie together in time order, each bucket's values and parts together. Ranges of buckets
of every value (a grouping) and of one value (the value checked in the index) read one range of
the index; a second index in the other order cost every part appended a second index entry."""
_LOCK = 7275311550617104175
# Writers append parts side by side under a shared lock; a rebuild (after a run's deletion) takes
# it alone, so that no part of results it reads is appended meanwhile, nor one of results it does
# not read lost. Writers take it after their results are written and before their rollups' parts
# (which lock no stored row); a run's deletion takes it before deleting anything: one order, so no
# cycle can form. Compaction and a deletion's merge of the rollups' parts run under it too.

# A part's number: the transaction's id (pg_current_xact_id, 64 bits, never reused) above 20 bits
# counting the parts the transaction appends (a rebuild appends several), from a sequence of the
# session's own. A sequence in the schema would need a grant the service's user may lack: tables
# granted alone (GRANT ... ON ALL TABLES) served the previous version, and its writes failed.
_PART_COUNTER = "CREATE TEMP SEQUENCE IF NOT EXISTS summary_part_counter"
_APPENDING = (
    f"SELECT pg_advisory_xact_lock_shared({_LOCK}), "
    "(pg_current_xact_id()::text::bigint << 20) | (nextval('pg_temp.summary_part_counter') & 1048575)"
)
REBUILDING = f"SELECT pg_advisory_xact_lock({_LOCK})"
"""The summaries' lock, taken alone until the transaction ends: no writer appends meanwhile."""
# One compaction at a time (two would wait on each other's rows); beside appends, not a rebuild.
# Taken in this order, one statement each, as a rebuild takes them (its own lock, then this one
# when it compacts what it rebuilt): in the other order the two could wait on each other.
_COMPACTING = (f"SELECT pg_advisory_xact_lock_shared({_LOCK})", f"SELECT pg_advisory_xact_lock({_LOCK + 1})")
_APPEND = (
    f"COPY result_summaries ({_KEY_COLUMNS}, part, summary) FROM STDIN (FORMAT BINARY)",
    ["text", "int8", "int8", "text", "int8", "bytea"],
)
_CROWDED_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS crowded_buckets (
        dimension text, width_us bigint, bucket_start_us bigint, value text, position bigint, parts_before bigint,
        PRIMARY KEY (position)
    ) ON COMMIT DELETE ROWS
"""
_FIND_CROWDED = f"""
    INSERT INTO crowded_buckets
    SELECT {_KEY_COLUMNS}, row_number() OVER keyed - 1, sum(count(*)) OVER keyed - count(*)
    FROM result_summaries
    WHERE bucket_start_us >= %(low)s AND bucket_start_us < %(high)s
    GROUP BY 1, 2, 3, 4 HAVING count(*) > 1
    WINDOW keyed AS (ORDER BY {_KEY_COLUMNS})
    RETURNING {_KEY_COLUMNS}, position, parts_before
"""
"""The buckets in [low, high) holding several parts, put aside in key order, each with its 0-based
position and how many parts the buckets before it hold."""
_TAKE_CROWDED = """
    DELETE FROM result_summaries s USING crowded_buckets c
    WHERE c.position >= %(first)s AND c.position < %(past)s
        AND (s.dimension, s.width_us, s.bucket_start_us, s.value)
            = (c.dimension, c.width_us, c.bucket_start_us, c.value)
    RETURNING c.position, s.summary
"""
"""The parts of the buckets put aside at positions [first, past), deleted: (bucket position,
summary), in no order. Sorted with their summaries, they cost PostgreSQL more than the deletion
(an external sort of 40 MB for 100,000 parts); keys on every row cost psycopg four more objects
a part."""
_EVERY_BUCKET = {"low": -(1 << 62), "high": 1 << 62}
# Where `add_results` finds a row's series in a row of `results` (row_of's column order).
_COLUMN_NAMES = [column.name for column in results.columns]
_MODEL, _LABELS = _COLUMN_NAMES.index("model"), _COLUMN_NAMES.index("labels")


def add_results(connection: Connection, rows: Sequence[tuple[Any, ...]], columns: BatchColumns) -> None:
    """Append newly stored results to their series' summaries, a part per bucket (inside the
    storing transaction).

    `rows` are the results as stored (row_of's tuples, labels as JSON text), `columns` the same
    rows' metrics, instants and failures.
    """
    if not rows:
        return
    # The labels' canonical JSON text names a set of labels, so equal sets are decoded once.
    _add(
        connection,
        columns.at,
        columns.stored,
        columns.failed,
        [(row[_MODEL], row[_LABELS]) for row in rows],
        series=lambda model, labels: series_of(model, json.loads(labels)),
    )


def rebuild(connection: Connection, low: int, high: int) -> None:
    """Summaries anew, from the stored results, for every bucket touching [low, high) microseconds."""
    low, high = whole_buckets(low, high, WIDTHS[-1])
    driver = connection.connection.driver_connection
    driver.execute(REBUILDING)  # type: ignore[union-attr]  # no writer appends to what is rebuilt
    driver.execute(  # type: ignore[union-attr]
        "DELETE FROM result_summaries WHERE bucket_start_us >= %s AND bucket_start_us < %s", (low, high)
    )
    metrics = ", ".join(STORED_METRICS)
    # A server-side cursor: a month of results is read a slice at a time.
    with driver.cursor(name="summaries_rebuild") as cursor:  # type: ignore[union-attr]
        cursor.execute(
            f"SELECT recorded_at_us, {metrics}, error IS NOT NULL, model, labels FROM results "
            "WHERE recorded_at_us >= %s AND recorded_at_us < %s",
            (low, high),
        )
        while rows := cursor.fetchmany(_REBUILD_ROWS):
            width = len(STORED_METRICS)
            at = np.fromiter((row[0] for row in rows), np.int64, len(rows))
            stored = np.array([row[1 : 1 + width] for row in rows], dtype=np.float64).reshape(-1, width)
            failed = np.fromiter((row[1 + width] for row in rows), bool, len(rows))
            # JSONB arrives as a dict, which cannot key a cache: its items can.
            described = [(row[-2], tuple(row[-1].items())) for row in rows]
            _add(connection, at, stored, failed, described, series=lambda model, labels: series_of(model, dict(labels)))
    # A part per slice read: merged into one per bucket before anyone reads them.
    compact(connection, _REBUILD_ROWS, low, high)


def _add(
    connection: Connection,
    at: Ints,
    stored: Any,
    failed: Any,
    described: Sequence[Described],
    *,
    series: Callable[[str | None, Any], list[Series]],
) -> None:
    """Summarise rows per series and bucket of every width, and append them to the table.

    Per row: `at` its instant (microseconds), `stored` its STORED_METRICS (NaN where undefined),
    `failed` its flag, and `described` its (model, labels) in a hashable form that `series` turns
    into the row's series.
    """
    names, row_of, series_of_row = _memberships(described, series)
    values, flags, moments = metric_columns(stored)[row_of], failed[row_of], at[row_of]
    keys: list[Ints] = []
    for level, width in enumerate(WIDTHS):
        # One integer per (series, level, bucket), ordered by them: np.unique names the groups.
        bucket = moments // width
        keys.append((((series_of_row * len(WIDTHS)) + level) << _BUCKET_BITS) | (bucket + (1 << (_BUCKET_BITS - 1))))
    joined = np.concatenate(keys)
    found, groups = np.unique(joined, return_inverse=True)
    summaries = summarize_rows(np.tile(values, (len(WIDTHS), 1)), np.tile(flags, len(WIDTHS)), groups, len(found))
    series_names = list(names)
    series_index, levels = np.divmod(found >> _BUCKET_BITS, len(WIDTHS))
    buckets = (found & ((1 << _BUCKET_BITS) - 1)) - (1 << (_BUCKET_BITS - 1))
    widths = np.array(WIDTHS, np.int64)[levels]
    key_columns = [
        [series_names[index][0] for index in series_index.tolist()],
        widths.tolist(),
        (buckets * widths).tolist(),
        [series_names[index][1] for index in series_index.tolist()],
    ]
    _append(connection, key_columns, summaries)


def _memberships(
    described: Sequence[Described], series: Callable[[str | None, Any], list[Series]]
) -> tuple[dict[Series, int], Ints, Ints]:
    """Every (row, series) membership: the series numbered in order of appearance, and two
    parallel arrays, the row and the series' number, ordered by row and then as `series` lists
    them. A file's results mostly share one model and one set of labels, so each distinct
    description is looked at once and the memberships are spread over its rows by numpy."""
    kinds: dict[Described, int] = {}
    kind_of_row = np.fromiter((kinds.setdefault(item, len(kinds)) for item in described), np.int64, len(described))
    names: dict[Series, int] = {}
    per_kind = [[names.setdefault(member, len(names)) for member in series(*kind)] for kind in kinds]
    lengths = np.array([len(members) for members in per_kind], np.int64)
    flat = np.array([number for members in per_kind for number in members], np.int64)
    counts = lengths[kind_of_row]
    row_of = np.repeat(np.arange(len(described), dtype=np.int64), counts)
    # Each membership's place among its row's: its index less where its row's memberships begin.
    within = np.arange(len(row_of), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    first_of_kind = np.cumsum(lengths) - lengths
    return names, row_of, flat[first_of_kind[kind_of_row][row_of] + within]


def _append(connection: Connection, keys: list[list[Any]], summaries: Summaries) -> None:
    """Append the summaries of the buckets `keys` names (four parallel lists, _KEY_COLUMNS) as one
    new part of each: nothing stored is read or written over."""
    driver = connection.connection.driver_connection
    part = _part_number(driver)
    _copy_parts(driver, [*keys, itertools.repeat(part)], encode(summaries))


def _part_number(driver: Any) -> int:
    """A new part's number, under the summaries' lock taken shared (see _APPENDING)."""
    driver.execute(_PART_COUNTER)
    ((_, part),) = driver.execute(_APPENDING).fetchall()
    return int(part)


def _copy_parts(driver: Any, key_columns: Sequence[Iterable[Any]], blobs: list[bytes]) -> None:
    """COPY rows of `result_summaries`: key columns (_KEY_COLUMNS, then the part) and
    the encoded summaries, row by row in binary (psycopg's text form escapes every byte)."""
    statement, types = _APPEND
    with driver.cursor().copy(statement) as copy:
        copy.set_types(types)
        for row in zip(*key_columns, blobs, strict=False):
            copy.write_row(row)


def compact(connection: Connection, most: int, low: int | None = None, high: int | None = None) -> int:
    """Merge the parts of every bucket that holds several (of those starting in [low, high)
    microseconds, or anywhere) into one part each, in the caller's transaction, about `most`
    parts at a time (a bucket's parts all together); how many parts were merged.

    Readers see a bucket's parts or their merge, never both: the parts are deleted and the merge
    appended in one transaction. Parts appended meanwhile by others stay, for a later compaction.
    """
    driver = connection.connection.driver_connection
    for lock in _COMPACTING:
        driver.execute(lock)  # type: ignore[union-attr]
    driver.execute(_CROWDED_TABLE)  # type: ignore[union-attr]
    span = _EVERY_BUCKET if low is None or high is None else {"low": low, "high": high}
    crowded = sorted(driver.execute(_FIND_CROWDED, span).fetchall(), key=lambda row: row[4])  # type: ignore[union-attr]
    merged = 0
    for first, past in _slices([row[5] for row in crowded], most):
        taken = driver.execute(_TAKE_CROWDED, {"first": first, "past": past}, binary=True).fetchall()  # type: ignore[union-attr]
        positions = np.fromiter((position for position, _ in taken), np.int64, len(taken)) - first
        # In bucket order, each part's bins (sorted already) follow the bins of its bucket's
        # other parts: sorting them all to merge them is then about linear (see _binned).
        order = np.argsort(positions, kind="stable")
        summaries = merge(decode([taken[index][1] for index in order.tolist()]), positions[order], past - first)
        part = _part_number(driver)
        keys = list(zip(*(row[:4] for row in crowded[first:past]), strict=True))
        _copy_parts(driver, [*keys, itertools.repeat(part)], encode(summaries))
        merged += len(taken)
    return merged


def _slices(parts_before: Sequence[int], most: int) -> Iterator[tuple[int, int]]:
    """Ranges [first, past) of bucket positions, given how many parts the buckets before each one
    hold: a range ends with the bucket that brings it to `most` parts or more (the last may hold
    fewer), so that no range holds `most` parts before its last bucket."""
    first = 0
    for position in range(1, len(parts_before)):
        if parts_before[position] - parts_before[first] >= most:
            yield first, position
            first = position
    if parts_before:
        yield first, len(parts_before)
