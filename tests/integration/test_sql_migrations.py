"""Migrations of databases holding results: after an upgrade they answer as the reference does."""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from src.adapters.metric_summaries import Summaries, encode
from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.database import _MIGRATIONS, connect, database_url, migrate
from src.adapters.sql_store.schema import ROLLUP_WIDTHS
from src.adapters.sql_store.stores import open_sql_store
from src.application.ports.result_store import SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_columns import row_of
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.statistics import ServiceLevelObjective
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch, parse_timestamp
from tests.databases import SQL_KINDS, scratch_database
from tests.support import assert_same_summaries
from tests.unit.fakes import FakeResultStore

_START = parse_timestamp("2024-06-01T00:00:00Z")
_MINUTE = 60_000_000

# What the store of revision 0002 wrote besides each row, frozen here as it was: rollups of all
# results, and on SQLite packs of four float64 metrics a result.
_OLD_ROLLUPS = f"""
INSERT INTO result_rollups (width_us, bucket_start_us, result_count, sum_token_count,
    sum_time_to_first_token, sum_time_per_output_token, sum_total_generation_time)
SELECT w.width_us, r.recorded_at_us - ((r.recorded_at_us % w.width_us) + w.width_us) % w.width_us,
    count(*), sum(r.token_count), sum(r.time_to_first_token), sum(r.time_per_output_token), sum(r.total_generation_time)
FROM results r CROSS JOIN ({" UNION ALL ".join(f"SELECT {width} AS width_us" for width in ROLLUP_WIDTHS)}) w
GROUP BY 1, 2
"""


def _old_packs(stored: list[BenchmarkResult]) -> list[tuple[int, str, int, bytes]]:
    grouped: dict[tuple[int, str], list[float]] = {}
    for result in stored:
        at = microseconds_since_epoch(result.timestamp)
        grouped.setdefault((at - at % _MINUTE, result.model or ""), []).extend(
            [
                float(result.token_count or 0),
                result.time_to_first_token or 0.0,
                result.time_per_output_token or 0.0,
                result.total_generation_time or 0.0,
            ]
        )
    return [
        (minute, model, len(values) // 4, struct.pack(f"<{len(values)}d", *values))
        for (minute, model), values in grouped.items()
    ]


def _results(prefix: str, count: int, seed: int, *, with_failures: bool) -> list[BenchmarkResult]:
    """Results over three days, every few minutes; with failures and undefined metrics when asked."""
    generator = random.Random(seed)
    made = []
    for index in range(count):
        tokens = generator.randint(1, 500)
        first = round(generator.uniform(20, 400), 3)
        per_token = round(generator.uniform(5, 50), 3)
        fields: dict[str, object] = {
            "token_count": tokens,
            "time_to_first_token": first,
            "time_per_output_token": per_token,
            "total_generation_time": round(first + per_token * tokens, 3),
        }
        if with_failures:
            kind = index % 6
            if kind == 0:
                fields = dict.fromkeys(fields) | {"error": "timeout", "time_to_first_token": first}
            elif kind == 1:
                fields["time_to_first_token"] = None
            elif kind == 2:
                fields["time_per_output_token"] = None
            fields["prompt_token_count"] = None if kind == 3 else generator.randint(1, 900)
        made.append(
            BenchmarkResult(
                request_id=f"{prefix}{index}",
                timestamp=_START + timedelta(seconds=generator.randrange(3 * 86_400), microseconds=index),
                model=generator.choice([None, "m", "n"]),
                labels={"run": generator.choice(["a", "b"])},
                **fields,  # type: ignore[arg-type]
            )
        )
    return made


@pytest.fixture(params=SQL_KINDS)
def database_at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[BenchmarkResult]]]:
    """A database at revision 0002 holding results as that revision's store wrote them."""
    stored = _results("old-", 400, seed=7, with_failures=False)
    with scratch_database(request.param, tmp_path, migrated=False) as url:
        engine = connect(database_url(url), pool_size=1)
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            # Revision 0002 has the first ten columns; the others came later.
            placeholders = ", ".join(["%s" if engine.dialect.name == "postgresql" else "?"] * 10)
            connection.exec_driver_sql(f"INSERT INTO results VALUES ({placeholders})", [row_of(r)[:10] for r in stored])
            connection.execute(text(_OLD_ROLLUPS))
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("INSERT INTO result_packs VALUES (?, ?, ?, ?)", _old_packs(stored))
        engine.dispose()
        yield url, stored


def _windows() -> list[TimeWindow | None]:
    """All time, and windows cutting minutes, hours and days, so that every rollup level is read."""
    return [
        None,
        TimeWindow(_START + timedelta(minutes=7, seconds=13), _START + timedelta(days=2, hours=5, seconds=7)),
        TimeWindow(_START + timedelta(hours=3), _START + timedelta(hours=29, minutes=59, seconds=59)),
        TimeWindow(_START + timedelta(days=1), _START + timedelta(days=1, hours=23, minutes=59, seconds=59)),
    ]


_QUERIES = (
    SummaryQuery(),
    SummaryQuery(group_by=Grouping(), bucket_width=3_600_000_000),
    SummaryQuery(ResultFilter(model="m"), group_by=Grouping("run")),
    SummaryQuery(
        ResultFilter(TimeWindow(_START + timedelta(hours=5, seconds=30), _START + timedelta(days=2, minutes=3))),
        percentiles=(50.0, 99.0),
        objective=ServiceLevelObjective(time_to_first_token=200, total_generation_time=8000),
    ),
)


def _assert_answers_as_the_reference(store: SqlStoreBase, held: list[BenchmarkResult]) -> None:
    reference = FakeResultStore(held)
    for window in _windows():
        inside = [result for result in held if window is None or window.start <= result.timestamp <= window.end]
        found, expected = store.aggregate(window).summary(), ResultAggregate.of(inside).summary()
        assert (found.count, found.failed) == (expected.count, expected.failed), window
        for name in ("token_count", "time_to_first_token", "time_per_output_token", "total_generation_time"):
            assert getattr(found, f"average_{name}") == pytest.approx(getattr(expected, f"average_{name}"), rel=1e-12)
    for query in _QUERIES:
        assert_same_summaries(store.summarize(query), reference.summarize(query))
    found_values, expected_values = store.sorted_values(ResultFilter()), reference.sorted_values(ResultFilter())
    assert found_values.keys() == expected_values.keys()
    for metric, values in expected_values.items():
        assert found_values[metric] == pytest.approx(values, rel=1e-12), metric


def test_a_database_at_0002_answers_as_the_reference_after_the_upgrade(
    database_at_0002: tuple[str, list[BenchmarkResult]],
) -> None:
    url, stored = database_at_0002
    engine = connect(database_url(url), pool_size=1)
    assert migrate(engine) == ("0002", "0007")
    if url.startswith("postgresql"):
        # Migration 0006 built the summaries from the stored results, one part a bucket, in
        # the column 0005 set to LZ4: every compressed one is LZ4.
        with engine.connect() as connection:
            methods = connection.exec_driver_sql(
                "SELECT pg_column_compression(summary), count(*) FROM result_summaries GROUP BY 1"
            ).all()
        assert dict(methods).keys() == {None, "lz4"}, methods
    engine.dispose()
    # PostgreSQL answers every query its summaries can from them (built by migration 0004), with
    # sketched percentiles; SQLite from its packs, exactly.
    store = open_sql_store(database_url(url), exact_percentile_results=0)
    try:
        _assert_answers_as_the_reference(store, stored)
        # What comes after the upgrade joins what was there: failures and undefined metrics too,
        # into the same minutes, rollups and packs.
        added = _results("new-", 300, seed=8, with_failures=True)
        for first in range(0, len(added), 50):
            assert store.add(added[first : first + 50]).stored == len(added[first : first + 50])
        _assert_answers_as_the_reference(store, stored + added)
        for result in (stored[3], added[0], added[1]):
            found = store.get(result.request_id)
            assert found is not None
            assert found.same_content(result)
        # Deleting a run rebuilds every summary its results were in from the results that remain.
        assert store.delete_run("a") == sum(result.labels["run"] == "a" for result in stored + added)
        _assert_answers_as_the_reference(store, [result for result in stored + added if result.labels["run"] == "b"])
    finally:
        store.close()


def _as_revision_0004_wrote_it(blob: bytes) -> bytes:
    """A summary in revision 0004's form: the same header, each bin's count in 8 bytes, not 4."""
    header = len(encode(Summaries.empty(1))[0])
    bins = (len(blob) - header) // 8
    counts = np.frombuffer(blob[header + 4 * bins :], dtype="<u4").astype("<i8")
    return blob[: header + 4 * bins] + counts.tobytes()


def test_summaries_and_rollups_of_revision_0004_are_rewritten_and_answer_as_the_reference(tmp_path: Path) -> None:
    stored = _results("old-", 400, seed=9, with_failures=True)
    with scratch_database("postgresql", tmp_path) as url:
        store = open_sql_store(database_url(url), exact_percentile_results=0)
        assert store.add(stored).stored == len(stored)
        store.close()
        engine = connect(database_url(url), pool_size=1)
        with engine.begin() as connection:
            rows = connection.exec_driver_sql(
                "SELECT dimension, value, width_us, bucket_start_us, summary FROM result_summaries"
            ).all()
            for *key, blob in rows:
                connection.exec_driver_sql(
                    "UPDATE result_summaries SET summary = %s "
                    "WHERE dimension = %s AND value = %s AND width_us = %s AND bucket_start_us = %s",
                    (_as_revision_0004_wrote_it(blob), *key),
                )
            connection.exec_driver_sql("ALTER TABLE result_summaries ALTER COLUMN summary SET COMPRESSION pglz")
            # The table as 0004 made it: a summary a bucket, keyed by the bucket alone.
            connection.exec_driver_sql(
                "ALTER TABLE result_summaries DROP CONSTRAINT result_summaries_pkey, DROP COLUMN part, "
                "ADD PRIMARY KEY (dimension, value, width_us, bucket_start_us)"
            )
            connection.exec_driver_sql(
                "CREATE INDEX result_summaries_by_bucket ON result_summaries (dimension, width_us, bucket_start_us)"
            )
            # The rollups as every revision before 0007 kept them: a row a bucket (one write made them).
            buckets = connection.exec_driver_sql("SELECT count(*) FROM result_rollups").scalar_one()
            connection.exec_driver_sql(
                "ALTER TABLE result_rollups DROP CONSTRAINT result_rollups_pkey, DROP COLUMN part, "
                "ADD PRIMARY KEY (width_us, bucket_start_us)"
            )
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0004'")
        assert migrate(engine) == ("0004", "0007")
        with engine.connect() as connection:
            kept = connection.exec_driver_sql("SELECT count(*) FROM result_summaries").scalar_one()
            parts = connection.exec_driver_sql("SELECT DISTINCT part FROM result_summaries").scalars().all()
            rollup_parts = connection.exec_driver_sql("SELECT DISTINCT part, count(*) FROM result_rollups GROUP BY 1")
            rollups_kept = rollup_parts.all()
        engine.dispose()
        # Each bucket's summary is its part 0, and each rollup row its bucket's part 0.
        assert (kept, parts) == (len(rows), [0])
        assert rollups_kept == [(0, buckets)]
        store = open_sql_store(database_url(url), exact_percentile_results=0)
        try:
            _assert_answers_as_the_reference(store, stored)
        finally:
            store.close()
