"""PostgreSQL refuses an answer of too many groups before it summarises any group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.postgres.store import PostgresResultStore
from src.application.ports.result_store import SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidStatisticsQuery
from src.domain.result_selection import Grouping
from src.domain.timestamps import parse_timestamp
from tests.databases import scratch_database


@pytest.fixture
def postgres_store(tmp_path: Path) -> Iterator[PostgresResultStore]:
    with scratch_database("postgresql", tmp_path) as url:
        store = PostgresResultStore.open(database_url(url))
        yield store
        store.close()


def test_too_many_groups_are_refused_before_any_is_summarised(postgres_store: PostgresResultStore) -> None:
    moment = parse_timestamp("2024-06-01T12:00:00Z")
    postgres_store.add(
        [BenchmarkResult(f"r{i}", 1, 1.0, 1.0, 1.0, moment, labels={"run": f"{i}"}) for i in range(1001)]
    )
    statements: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = postgres_store._engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(InvalidStatisticsQuery) as refused:
            postgres_store.summarize(SummaryQuery(group_by=Grouping("run")))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert refused.value.parameter == "group_by"
    # The summary's percentile_cont sorts every group's values: that is the work refused.
    assert statements
    assert not [statement for statement in statements if "percentile_cont" in statement]
