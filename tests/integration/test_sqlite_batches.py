"""SQLite binds a batch's ids in slices, so that an import's batch may exceed its parameter limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from src.adapters.sql_store.database import connect, database_url
from src.adapters.sql_store.sqlite import store as sqlite_store
from src.adapters.sql_store.sqlite.store import SqliteResultStore
from src.domain.benchmark_result import BenchmarkResult
from tests.databases import scratch_database
from tests.support import record


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqliteResultStore]:
    monkeypatch.setattr(sqlite_store, "_IDS_PER_STATEMENT", 3)
    with scratch_database("sqlite", tmp_path) as url:
        opened = SqliteResultStore(connect(database_url(url)))
        yield opened
        opened.close()


def _result(index: int) -> BenchmarkResult:
    at = f"2024-06-01T12:{index:02d}:00Z"
    return BenchmarkResult.from_mapping(record(f"r{index:02d}", at, token_count=index + 1))


def test_a_batch_of_more_ids_than_a_statement_binds_is_stored_and_rolled_up_whole(store: SqliteResultStore) -> None:
    first = [_result(index) for index in range(4)]
    store.add(first)
    batch = [*first, *(_result(index) for index in range(4, 11))]
    outcome = store.add(batch)
    assert (outcome.stored, outcome.already_stored) == (7, 4)
    totals = store.aggregate()
    assert (totals.count, totals.token_count) == (11, sum(range(1, 12)))
