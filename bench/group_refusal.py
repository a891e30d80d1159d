"""What a statistics request grouped into too many groups costs before its 422, per store.

N results one second apart carry a label `u` with `--distinct` values (far past the 1,000 groups
an answer may hold) and a label `g` with 10. Each store is asked, in-process through the use
case, for statistics grouped by `u` (refused) and by `g` (answered), and the medians of a few
rounds are printed. PostgreSQL uses a fresh database next to SUPERBENCHMARK_TEST_DATABASE_URL's.

    .venv/bin/python -m bench.group_refusal --results 200000 --distinct 100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.database import drop_database, fresh_database
from src.adapters.sql_store.database import connect, database_url, migrate
from src.adapters.sql_store.stores import open_sql_store
from src.application.ports.result_store import ResultStore, SummaryQuery
from src.application.result_statistics import DescribeResults
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidStatisticsQuery
from src.domain.result_selection import Grouping

_BATCH = 5000


def fill(store: ResultStore, count: int, distinct: int) -> None:
    first = datetime(2024, 6, 1, tzinfo=UTC)
    for start in range(0, count, _BATCH):
        store.add(
            [
                BenchmarkResult(
                    f"r{i:09d}",
                    100 + i % 7,
                    100.0 + i % 13,
                    20.0 + i % 5,
                    1000.0 + i % 17,
                    first + timedelta(seconds=i),
                    labels={"u": f"v{i % distinct}", "g": f"g{i % 10}"},
                )
                for i in range(start, min(start + _BATCH, count))
            ]
        )


def seconds_of(work: Callable[[], object], rounds: int) -> float:
    """Median wall-clock seconds of `work` over `rounds` runs."""
    taken = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        taken.append(time.perf_counter() - started)
    return statistics.median(taken)


def refused(describe: DescribeResults) -> None:
    try:
        describe(SummaryQuery(group_by=Grouping("u")))
    except InvalidStatisticsQuery:
        return
    raise RuntimeError("grouping by u was not refused")


def measure(name: str, store: ResultStore, rounds: int) -> None:
    describe = DescribeResults(store)
    refusal = seconds_of(lambda: refused(describe), rounds)
    answer = seconds_of(lambda: describe(SummaryQuery(group_by=Grouping("g"))), rounds)
    print(f"| {name} | {refusal * 1000:,.0f} ms | {answer * 1000:,.0f} ms |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=200_000)
    parser.add_argument("--distinct", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stores", default="postgresql,sqlite")
    arguments = parser.parse_args()
    print(f"\n{arguments.results:,} results, {arguments.distinct:,} values of label u, medians of {arguments.rounds}\n")
    print("| store | group_by=label:u (refused) | group_by=label:g (10 groups) |")
    print("|---|---:|---:|")
    kinds = arguments.stores.split(",")
    if "postgresql" in kinds:
        url = fresh_database()
        try:
            store = open_sql_store(database_url(url))
            fill(store, arguments.results, arguments.distinct)
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("VACUUM ANALYZE results")
            measure("PostgreSQL", store, arguments.rounds)
            store.close()
        finally:
            drop_database()
    if "sqlite" in kinds:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'groups.db'}"
            migrate(connect(database_url(url)))
            store = open_sql_store(database_url(url))
            fill(store, arguments.results, arguments.distinct)
            measure("SQLite", store, arguments.rounds)
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
