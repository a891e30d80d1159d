"""PostgreSQL's summaries: exact up to the configured size, sketched beyond it, right under
concurrent writers, in parts that writers append and compaction merges."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, make_url

from src.adapters.importers.seed_formats import NdjsonReader
from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.postgres import store as postgres_store
from src.adapters.sql_store.postgres import summary_parts
from src.adapters.sql_store.postgres.store import PostgresResultStore
from src.adapters.sql_store.postgres.summary_parts import _slices
from src.adapters.sql_store.stores import open_sql_store
from src.application.import_results import ImportResults
from src.application.ports.result_reader import ImportOptions, ToolFile
from src.application.ports.result_store import SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import StoreUnavailable
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.time_window import TimeWindow
from src.domain.timestamps import parse_timestamp
from tests.databases import scratch_database
from tests.support import as_record, assert_same_summaries
from tests.unit.fakes import FakeResultStore

_START = parse_timestamp("2024-06-01T00:00:00Z")


def _results(prefix: str, count: int, seed: int) -> list[BenchmarkResult]:
    """Results over two hours, a few a minute, in two runs and two models; one in nine failed."""
    generator = random.Random(seed)
    return [
        BenchmarkResult(
            request_id=f"{prefix}{index}",
            token_count=generator.randint(1, 500),
            time_to_first_token=round(generator.uniform(20, 400), 3),
            time_per_output_token=round(generator.uniform(5, 50), 3),
            total_generation_time=round(generator.uniform(500, 9000), 3),
            timestamp=_START + timedelta(seconds=generator.randrange(7_200), microseconds=index),
            model=generator.choice(["m", "n"]),
            labels={"run": generator.choice(["a", "b"])},
            error="timeout" if index % 9 == 0 else None,
        )
        for index in range(count)
    ]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with scratch_database("postgresql", tmp_path) as url:
        yield url


def _store(url: str, exact_at_most: int) -> PostgresResultStore:
    store = open_sql_store(database_url(url), exact_percentile_results=exact_at_most)
    assert isinstance(store, PostgresResultStore)
    return store


def test_percentiles_are_exact_up_to_the_configured_size_and_sketched_beyond(database: str) -> None:
    held = _results("r", 300, seed=1)
    store = _store(database, 300)
    store.add(held)
    run_a = [result for result in held if result.labels["run"] == "a"]
    try:
        assert store.summarize(SummaryQuery())[(None, None)].percentile_accuracy is None  # 300 results
        larger = _store(database, 299)
        try:
            everything = larger.summarize(SummaryQuery())
            assert everything[(None, None)].percentile_accuracy == 0.01
            assert_same_summaries(everything, FakeResultStore(held).summarize(SummaryQuery()))
            # A run is a series of its own: sketched once it is over the size, exact under it.
            one_run = SummaryQuery(ResultFilter(labels=(("run", "a"),)))
            assert larger.summarize(one_run)[(None, None)].percentile_accuracy == (0.01 if len(run_a) > 299 else None)
            assert_same_summaries(larger.summarize(one_run), FakeResultStore(held).summarize(one_run))
            # No series names a model and a run together: those are read row by row, exactly.
            both = SummaryQuery(ResultFilter(model="m", labels=(("run", "a"),)))
            assert all(summary.percentile_accuracy is None for summary in larger.summarize(both).values())
        finally:
            larger.close()
    finally:
        store.close()


def test_summaries_merged_by_concurrent_writers_hold_every_result_once(database: str) -> None:
    writers = [_results(f"w{writer}-", 400, seed=10 + writer) for writer in range(4)]
    stores = [_store(database, 0) for _ in writers]
    try:
        # Each writer sends its batches into the same minutes, hours and days as the others.
        def write(index: int) -> None:
            batch = writers[index]
            for first in range(0, len(batch), 50):
                stores[index].add(batch[first : first + 50])

        with ThreadPoolExecutor(len(writers)) as pool:
            list(pool.map(write, range(len(writers))))
        held = [result for batch in writers for result in batch]
        reference = FakeResultStore(held)
        window = ResultFilter(TimeWindow(_START + timedelta(minutes=13, seconds=5), _START + timedelta(minutes=97)))
        for query in (
            SummaryQuery(),
            SummaryQuery(window),
            SummaryQuery(group_by=Grouping("run"), bucket_width=3_600_000_000),
            SummaryQuery(window, group_by=Grouping(), bucket_width=900_000_000),
        ):
            found = stores[0].summarize(query)
            assert {summary.percentile_accuracy for summary in found.values()} == {0.01}
            assert_same_summaries(found, reference.summarize(query))
    finally:
        for store in stores:
            store.close()


def test_a_cancelled_read_runs_again_then_makes_the_store_unavailable(database: str) -> None:
    # SQLSTATE 40001 is how a hot standby cancels a read that conflicts with the changes it replays.
    cancel = "DO $$BEGIN RAISE EXCEPTION 'conflict with recovery' USING ERRCODE = '40001'; END$$"
    store = _store(database, 0)
    attempts = []

    def once_cancelled(connection: Any) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            connection.exec_driver_sql(cancel)
        return 7

    def always_cancelled(connection: Any) -> None:
        connection.exec_driver_sql(cancel)

    try:
        assert store._read(once_cancelled) == 7
        assert len(attempts) == 2
        with pytest.raises(StoreUnavailable, match="cancelled twice"):
            store._read(always_cancelled)
    finally:
        store.close()


_QUERIES = (
    SummaryQuery(),
    SummaryQuery(ResultFilter(TimeWindow(_START + timedelta(minutes=13, seconds=5), _START + timedelta(minutes=97)))),
    SummaryQuery(group_by=Grouping("run"), bucket_width=3_600_000_000),
    SummaryQuery(ResultFilter(labels=(("run", "a"),)), bucket_width=1_800_000_000),
    SummaryQuery(group_by=Grouping(), bucket_width=900_000_000),
)


def _parts(url: str) -> tuple[int, int]:
    """(buckets, parts) in the summaries table."""
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            counted = (
                "SELECT count(DISTINCT (dimension, value, width_us, bucket_start_us)), count(*) FROM result_summaries"
            )
            buckets, parts = connection.exec_driver_sql(counted).one()
    finally:
        engine.dispose()
    return int(buckets), int(parts)


def _assert_answers(store: SqlStoreBase, held: list[BenchmarkResult]) -> None:
    reference = FakeResultStore(held)
    for query in _QUERIES:
        found = store.summarize(query)
        # Sketched wherever there is an answer (a deleted run's has none).
        assert {summary.percentile_accuracy for summary in found.values()} <= {0.01}, query
        assert_same_summaries(found, reference.summarize(query))


def _add_in_hundreds(store: SqlStoreBase, held: list[BenchmarkResult]) -> list[int]:
    """Store `held` a hundred at a time, a write each (so a part each per bucket); each write's stored count."""
    return [store.add(held[first : first + 100]).stored for first in range(0, len(held), 100)]


def test_writes_append_parts_that_answer_as_one_and_compaction_merges_them(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Merged a few buckets at a time: each bucket's six parts are a slice of their own.
    monkeypatch.setattr(postgres_store, "_COMPACTED_AT_ONCE", 5)
    held = _results("p", 600, seed=3)
    store = _store(database, 0)
    try:
        assert _add_in_hundreds(store, held) == [100] * 6
        # Six writes into the same two hours: every hour and the day hold six parts.
        buckets, parts = _parts(database)
        assert parts > 5 * buckets
        _assert_answers(store, held)
        before = store.summarize(_QUERIES[2])
        store.compact_now()
        assert _parts(database) == (buckets, buckets)
        _assert_answers(store, held)
        # Merged once more, the moments come out as close as two orders of summing allow.
        assert_same_summaries(store.summarize(_QUERIES[2]), before)
        store.compact_now()  # nothing left to merge
        assert _parts(database) == (buckets, buckets)
    finally:
        store.close()


def test_a_process_compacts_after_its_configured_number_of_writes(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_store, "COMPACT_AFTER_WRITES", 3)
    held = _results("q", 400, seed=4)
    store = _store(database, 0)
    try:
        _add_in_hundreds(store, held[:300])
        store.wait_for_compaction()
        buckets, parts = _parts(database)
        assert parts == buckets  # merged after the third write
        # Writes storing nothing new are no writes to compact after: three more, one new, merge nothing.
        store.add(held[:100])
        store.add(held[100:200])
        store.add(held[300:])
        store.wait_for_compaction()
        assert _parts(database)[1] > buckets
        _assert_answers(store, held)
    finally:
        store.close()


def test_an_import_answers_before_its_parts_are_merged_and_they_are_merged_behind_it(
    database: str, tmp_path: Path
) -> None:
    held = _results("i", 600, seed=7)
    path = tmp_path / "results.ndjson"
    path.write_text("".join(json.dumps(as_record(result)) + "\n" for result in held), encoding="utf-8")
    store = _store(database, 0)
    importing = ImportResults(store, [NdjsonReader()], batch_rows=100)
    try:
        # Another process's compaction holds the compaction lock: the import stores its six
        # batches and answers without waiting for it (a compaction inside the import would wait
        # until the lock is let go, after the timeout below).
        # The lock's connection closes first, so a waiting import can end when the test fails.
        with ThreadPoolExecutor(1) as pool, psycopg.connect(database) as compacting:
            compacting.execute("SELECT pg_advisory_xact_lock(%s)", (summary_parts._LOCK + 1,))
            imported = pool.submit(importing, [ToolFile("results.ndjson", path)], ImportOptions(), "ndjson")
            assert imported.result(timeout=60).stored == 600
            buckets, parts = _parts(database)
            assert parts > buckets
            _assert_answers(store, held)  # readers merge the parts themselves
        store.wait_for_compaction()
        assert _parts(database) == (buckets, buckets)
        _assert_answers(store, held)
    finally:
        store.close()


def test_compaction_and_a_run_rebuilt_beside_writers_keep_every_result_once(database: str) -> None:
    writers = [_results(f"c{writer}-", 300, seed=20 + writer) for writer in range(3)]
    stores = [_store(database, 0) for _ in range(len(writers) + 1)]
    compacting = stores[-1]
    try:

        def write(index: int) -> None:
            batch = writers[index]
            for first in range(0, len(batch), 30):
                stores[index].add(batch[first : first + 30])
                if index == 0 and first == 150:
                    # Rebuilds the buckets of run "a" while the others append and compact.
                    assert stores[index].delete_run("a") > 0

        def compact_all_along() -> None:
            for _ in range(20):
                compacting.compact_now()

        with ThreadPoolExecutor(len(writers) + 1) as pool:
            done = [pool.submit(write, index) for index in range(len(writers))]
            done.append(pool.submit(compact_all_along))
            for future in done:
                future.result()
        # Which of run "a" the deletion took depends on who committed first: the summaries must
        # hold exactly the results the table holds.
        held = [result for batch in writers for result in batch if compacting.get(result.request_id) is not None]
        assert (
            0
            < sum(result.labels["run"] == "a" for result in held)
            < sum(result.labels["run"] == "a" for batch in writers for result in batch)
        )
        _assert_answers(compacting, held)
        compacting.compact_now()
        buckets, parts = _parts(database)
        assert parts == buckets
        _assert_answers(compacting, held)
    finally:
        for store in stores:
            store.close()


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.integers(2, 30), max_size=40), most=st.integers(1, 100))
def test_compaction_slices_cover_every_bucket_once_and_hold_about_the_configured_parts(
    parts: list[int], most: int
) -> None:
    before = [sum(parts[:position]) for position in range(len(parts))]
    slices = list(_slices(before, most))
    assert [position for first, past in slices for position in range(first, past)] == list(range(len(parts)))
    for first, past in slices:
        held = sum(parts[first:past])
        # A slice stops at the bucket that reaches `most` parts: less only for the last one.
        assert held - parts[past - 1] < most
        assert held >= most or past == len(parts)


def test_a_user_granted_the_tables_alone_writes_compacts_and_deletes(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Reported: the parts' numbers came from a sequence, which a user granted the tables alone
    # (as the previous version needed) could not use: every write failed after the upgrade.
    role = f"app_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as admin:
        # The test's own schema (tests.databases), as a deployment grants its schema's tables.
        schema = admin.execute("SELECT current_schema()").fetchone()
        assert schema is not None
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f'GRANT USAGE ON SCHEMA "{schema[0]}" TO {role}')
        admin.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema[0]}" TO {role}')
    held = _results("g", 300, seed=5)
    store = _store(make_url(database).set(username=role).render_as_string(hide_password=False), 0)
    try:
        assert _add_in_hundreds(store, held) == [100] * 3
        store.compact_now()
        assert _parts(database)[0] == _parts(database)[1]
        with caplog.at_level("WARNING", logger=postgres_store.__name__):
            assert store.delete_run("a") == sum(result.labels["run"] == "a" for result in held)
        _assert_answers(store, [result for result in held if result.labels["run"] == "b"])
        # The vacuum after the deletion needs the tables' owner: PostgreSQL only warns, and so do we.
        assert any("not vacuumed" in record.getMessage() for record in caplog.records)
    finally:
        store.close()
        with psycopg.connect(database, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def _vacuums(url: str) -> int:
    """How many times the summaries table of the test's schema was vacuumed by hand."""
    with psycopg.connect(url) as connection:
        found = connection.execute(
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'result_summaries'::regclass"
        ).fetchone()
    assert found is not None
    return int(found[0])


def test_a_run_deletion_and_a_large_compaction_vacuum_the_summaries(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reported: with autovacuum off, the rebuilt and merged rows stayed dead forever.
    monkeypatch.setattr(postgres_store, "_VACUUM_AFTER_PARTS", 10)
    held = _results("v", 300, seed=6)
    store = _store(database, 0)
    try:
        _add_in_hundreds(store, held)
        before = _vacuums(database)
        store.compact_now()
        assert _vacuums(database) == before + 1
        store.delete_run("a")
        assert _vacuums(database) == before + 2
        store.delete_run("none")  # nothing deleted, nothing rebuilt
        assert _vacuums(database) == before + 2
    finally:
        store.close()


def test_label_values_too_long_for_a_series_are_stored_and_answered_from_rows(database: str) -> None:
    # Reported: a value of 1,024 CJK characters (3,072 bytes) passed the summaries' index limit
    # and the write answered 503. Such values name no series now; their results are read as rows.
    # Random characters: a repeated text compresses, and a compressed index key fits.
    generator = random.Random(11)
    long_value = "".join(chr(0x4E00 + generator.randrange(20_000)) for _ in range(1_024))
    # Two days, so that whole hours and a whole day are read from summaries, not rows.
    held = [
        replace(
            result,
            timestamp=_START + timedelta(seconds=577 * index),
            labels={**result.labels, "note": long_value if index % 3 else "short"},
        )
        for index, result in enumerate(_results("n", 300, seed=7))
    ]
    store = _store(database, 0)
    try:
        assert store.add(held).stored == len(held)
        reference = FakeResultStore(held)
        window = ResultFilter(TimeWindow(_START + timedelta(minutes=13, seconds=5), _START + timedelta(hours=40)))
        for query in (
            SummaryQuery(ResultFilter(labels=(("note", long_value),))),
            SummaryQuery(ResultFilter(window.window, labels=(("note", long_value),))),
            SummaryQuery(ResultFilter(labels=(("note", "short"),)), bucket_width=1_800_000_000),
            SummaryQuery(group_by=Grouping("note"), bucket_width=3_600_000_000),
            SummaryQuery(window, group_by=Grouping("note")),
        ):
            assert_same_summaries(store.summarize(query), reference.summarize(query))
    finally:
        store.close()
