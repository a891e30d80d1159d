"""PostgreSQL's summaries: exact up to the configured size, sketched beyond it, right under
concurrent writers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.stores import open_sql_store
from src.application.ports.result_store import SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import StoreUnavailable
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.time_window import TimeWindow
from src.domain.timestamps import parse_timestamp
from tests.databases import scratch_database
from tests.support import assert_same_summaries
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


def _store(url: str, exact_at_most: int) -> SqlStoreBase:
    return open_sql_store(database_url(url), exact_percentile_results=exact_at_most)


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
