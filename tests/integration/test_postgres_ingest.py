"""PostgreSQL's bulk ingest: new batches copied straight into the table, batches holding stored
ids the careful way, and rollups summed from the batch exactly as the database sums its rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.postgres import rollup_parts
from src.adapters.sql_store.postgres.store import PostgresResultStore
from src.adapters.sql_store.rollups import add_to_rollups
from src.adapters.sql_store.schema import ROLLUP_WIDTHS
from src.adapters.sql_store.stores import open_sql_store
from src.application.ports.result_store import AddOutcome
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import StoreUnavailable
from src.domain.time_window import TimeWindow
from tests.databases import emptied, scratch_database

# Whole and half milliseconds and tokens: every sum of them is exact in float64, so rollups
# added batch by batch equal the sums the database makes of all rows at once.
_halves = st.integers(min_value=1, max_value=2_000).map(lambda halves: halves / 2)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@st.composite
def _result(draw: st.DrawFn, index: int) -> BenchmarkResult:
    """A result around the Unix epoch (bucket starts on both sides of 0), a success with some
    metrics undefined or a failure."""
    failed = draw(st.booleans())
    total_halves = draw(st.integers(min_value=1, max_value=2_000))
    total = total_halves / 2
    # A first token no later than the last, drawn below it rather than filtered.
    first = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=total_halves).map(lambda halves: halves / 2)))
    return BenchmarkResult(
        request_id=f"r{index}",
        token_count=draw(st.integers(min_value=0, max_value=500)),
        time_to_first_token=first,
        time_per_output_token=draw(st.one_of(st.none(), _halves)),
        total_generation_time=total,
        prompt_token_count=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=900))),
        timestamp=_EPOCH
        + timedelta(microseconds=draw(st.integers(min_value=-(3 * 86_400 * 10**6), max_value=3 * 86_400 * 10**6))),
        error="timeout" if failed else None,
    )


@st.composite
def _batches(draw: st.DrawFn) -> list[list[BenchmarkResult]]:
    """Results in batches; a later batch may repeat earlier results (already stored) beside new ones."""
    count = draw(st.integers(min_value=1, max_value=40))
    made = [draw(_result(index)) for index in range(count)]
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=count), max_size=4)))
    batches = [made[low:high] for low, high in zip([0, *cuts], [*cuts, count], strict=True) if high > low]
    repeated = draw(st.lists(st.sampled_from(made), max_size=5))
    return [*batches, repeated] if repeated else batches


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database("postgresql", tmp_path_factory.mktemp("ingest")) as url:
        yield url


@pytest.fixture(scope="module")
def store(database: str) -> Iterator[SqlStoreBase]:
    opened = open_sql_store(database_url(database))
    yield opened
    opened.close()


def _bucket_sums(table: str) -> str:
    """Each bucket's rollup, its parts added up in the order they were written."""
    sums = ", ".join(f"sum({name} ORDER BY part)" for name in rollup_parts.COLUMNS)
    return f"SELECT width_us, bucket_start_us, {sums} FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"


def _kept_and_summed(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rollups kept (each bucket's parts added up), and the database's own sums of the stored
    rows in the same shape."""
    with psycopg.connect(url) as connection:
        connection.execute("CREATE TEMP TABLE expected (LIKE result_rollups)")
        made = add_to_rollups("results", "true", ROLLUP_WIDTHS, part="0")
        connection.execute(made.replace("result_rollups", "expected"))
        expected = connection.execute(_bucket_sums("expected")).fetchall()
        kept = connection.execute(_bucket_sums("result_rollups")).fetchall()
    return kept, expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches())
def test_rollups_kept_by_the_batch_path_are_those_the_database_sums(
    database: str, store: SqlStoreBase, batches: list[list[BenchmarkResult]], monkeypatch: pytest.MonkeyPatch
) -> None:
    emptied(database)
    # Every bucket of several parts is merged (not only those past the default's count).
    monkeypatch.setattr(rollup_parts, "CROWDED_PARTS", 1)
    for batch in batches:
        store.add(batch, all_or_nothing=False)
    kept, expected = _kept_and_summed(database)
    assert kept == expected
    stored = {result.request_id for batch in batches for result in batch}
    assert sum(row[2] + row[-1] for row in kept if row[0] == ROLLUP_WIDTHS[0]) == len(stored)
    # Merged, each bucket is one part holding the same sums.
    assert isinstance(store, PostgresResultStore)
    store.compact_now()
    assert _kept_and_summed(database) == (kept, expected)
    assert _rows_and_buckets(database)[0] == len(kept)


def _rows_and_buckets(url: str) -> tuple[int, int]:
    """How many rows the rollups hold, and how many buckets."""
    with psycopg.connect(url) as connection:
        found = connection.execute(
            "SELECT count(*), count(DISTINCT (width_us, bucket_start_us)) FROM result_rollups"
        ).fetchone()
    assert found is not None
    return int(found[0]), int(found[1])


def _parts_per_bucket(url: str) -> dict[tuple[int, int], int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT width_us, bucket_start_us, count(*) FROM result_rollups GROUP BY 1, 2")
        return {(width, start): count for width, start, count in rows}


def test_compaction_merges_the_rollup_buckets_of_more_than_the_crowded_count_of_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup_parts, "CROWDED_PARTS", 3)
    hour = datetime(2024, 6, 1, 10, tzinfo=UTC)
    with scratch_database("postgresql", tmp_path) as url:
        opened = open_sql_store(database_url(url))
        assert isinstance(opened, PostgresResultStore)
        try:
            # Four writes into minute 0, two into minute 7: every hour, day and month bucket gets six parts.
            for index, minute in enumerate([0, 0, 0, 0, 7, 7]):
                at = hour + timedelta(minutes=minute, seconds=index)
                assert opened.add([BenchmarkResult(f"m{index}", 10 + index, 1.0, 2.0, 20.0, at)]).stored == 1
            # Averages read the minutes of the first window and the hour of the second from rollups.
            windows = [TimeWindow(hour, hour + timedelta(minutes=m)) for m in (8, 60)]
            before = [opened.aggregate(window) for window in windows]
            assert [summed.count for summed in before] == [6, 6]
            minute_0, minute_7 = (int(1e6) * int((hour + timedelta(minutes=m)).timestamp()) for m in (0, 7))
            opened.compact_now()
            parts = _parts_per_bucket(url)
            assert parts[(ROLLUP_WIDTHS[0], minute_0)] == 1  # four parts: merged
            assert parts[(ROLLUP_WIDTHS[0], minute_7)] == 2  # two: left for readers to add up
            assert all(count == 1 for (width, _), count in parts.items() if width != ROLLUP_WIDTHS[0])
            assert [opened.aggregate(window) for window in windows] == before
        finally:
            opened.close()


def test_a_write_refused_by_another_rule_than_a_stored_key_says_so_at_once(tmp_path: Path) -> None:
    # Reported: a server of the previous version writing after a migration met a NOT NULL column
    # it does not know, and answered "8 attempts ... collided with concurrent writers".
    with scratch_database("postgresql", tmp_path) as url:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("ALTER TABLE result_rollups ADD COLUMN unknown_here bigint NOT NULL DEFAULT 0")
            admin.execute("ALTER TABLE result_rollups ALTER COLUMN unknown_here DROP DEFAULT")
        opened = open_sql_store(database_url(url))
        try:
            moment = datetime(2024, 6, 1, tzinfo=UTC)
            with pytest.raises(StoreUnavailable, match=r"refused to store the batch: .*unknown_here"):
                opened.add([BenchmarkResult("id0", 10, 1.0, 2.0, 20.0, moment)])
            assert opened.get("id0") is None  # rolled back whole
        finally:
            opened.close()


def test_a_batch_with_stored_and_clashing_ids_stores_only_the_new_ones(tmp_path: Path) -> None:
    with scratch_database("postgresql", tmp_path) as url:
        opened = open_sql_store(database_url(url))
        try:
            moment = datetime(2024, 6, 1, tzinfo=UTC)
            first = [BenchmarkResult(f"id{index}", 10, 1.0, 2.0, 20.0, moment) for index in range(3)]
            assert opened.add(first).stored == 3
            changed = BenchmarkResult("id1", 11, 1.0, 2.0, 20.0, moment)
            again = [first[0], changed, BenchmarkResult("id3", 12, 1.0, 2.0, 30.0, moment)]
            outcome = opened.add(again, all_or_nothing=False)
            assert (outcome.stored, outcome.already_stored, outcome.conflicting) == (1, 1, ("id1",))
            kept = opened.get("id1")
            assert kept is not None
            assert kept.token_count == 10
            assert opened.aggregate().count == 4
        finally:
            opened.close()


def test_a_run_deleted_while_a_writer_commits_results_of_it_leaves_the_rollups_exact(tmp_path: Path) -> None:
    # Reported: the run was taken out of the rollups by one statement and deleted by another,
    # so a result of the run committed between them was deleted yet still counted. Now one
    # statement does both, and no writer commits new results while a deletion runs (checked
    # here; the one statement guards alone where the lock is gone).
    with scratch_database("postgresql", tmp_path) as url:
        deleting, writing = open_sql_store(database_url(url)), open_sql_store(database_url(url))
        try:
            moment = datetime(2024, 6, 1, tzinfo=UTC)
            run = {"run": "r"}
            deleting.add([BenchmarkResult(f"a{i}", 10, 1.0, 2.0, 20.0, moment, labels=run) for i in range(3)])
            # Another year's buckets: the writer never waits for a rollup row the deletion holds.
            late = BenchmarkResult("late", 10, 1.0, 2.0, 20.0, moment.replace(year=2020), labels=run)
            writer: list[Future[AddOutcome]] = []
            committed_meanwhile: list[bool] = []

            def commit_a_result_of_the_run(_conn: object, _cursor: object, statement: str, *_: object) -> None:
                if "result_rollups" in statement and not writer:
                    # The writer commits now, unless the deletion holds it back until its own
                    # commit (it does: the summaries' lock, taken first).
                    writer.append(pool.submit(writing.add, [late]))
                    time.sleep(0.3)
                    committed_meanwhile.append(writer[0].done())

            with ThreadPoolExecutor(1) as pool:
                event.listen(deleting._engine, "after_cursor_execute", commit_a_result_of_the_run)
                deleting.delete_run("r")
                assert writer[0].result(timeout=30).stored == 1
            assert committed_meanwhile == [False]
            kept, expected = _kept_and_summed(url)
            assert kept == expected
            with psycopg.connect(url) as connection:
                stored = connection.execute("SELECT count(*) FROM results").fetchone()
            assert stored is not None
            assert deleting.aggregate().count == stored[0]
        finally:
            deleting.close()
            writing.close()
