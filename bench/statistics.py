"""`make bench`, statistics part: GET /results/stats on 1-day windows beside numpy, in one run.

A data set of N results one second apart (so a day holds 86,400) is served by the JSON store,
SQLite and PostgreSQL. For random 1-day windows, the median time of GET /results/stats (all
metrics, default percentiles, over HTTP) is set beside the median time numpy takes, in-process,
to compute the same statistics over the same values (goal: within 3x, JSON store and SQLite).
The JSON store's in-process cost is also measured on data sets of growing size at the same
density: it should follow the window, not the data set.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import numpy as np
import numpy.typing as npt
import psycopg

from bench.averages import ROOT, WORK, clean_environment, free_port, print_cost_table, wait_until_ready
from bench.database import BENCH_DATABASE, drop_database, fresh_database
from src.adapters.json_store.result_file import ResultColumns
from src.adapters.json_store.store import JsonFileResultStore
from src.adapters.sql_store.database import connect, database_url, migrate
from src.adapters.sql_store.stores import open_sql_store
from src.application.ports.result_store import SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_selection import ResultFilter
from src.domain.statistics import DEFAULT_PERCENTILES
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch
from src.entrypoints.allocator import tune_allocator

FIRST = datetime(2024, 1, 1, tzinfo=UTC)
DAY = 86_400


def synthetic_columns(count: int, seed: int = 11) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Second offsets in random order, and (count, 4) metrics in METRICS order."""
    generator = np.random.default_rng(seed)
    seconds = generator.permutation(count).astype(np.int64)
    tokens = generator.integers(1, 1025, count).astype(np.float64)
    first_token = np.round(generator.uniform(40, 900, count), 3)
    per_token = np.round(generator.uniform(5, 80, count), 3)
    total = np.round(first_token + per_token * (tokens - 1), 3)
    return seconds, np.column_stack([tokens, first_token, per_token, total])


def write_json(path: Path, seconds: npt.NDArray[np.int64], metrics: npt.NDArray[np.float64]) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [
        {
            "request_id": f"req-{index:09d}",
            "token_count": int(row[0]),
            "time_to_first_token": row[1],
            "time_per_output_token": row[2],
            "total_generation_time": row[3],
            "timestamp": FIRST + timedelta(seconds=int(second)),
        }
        for index, (second, row) in enumerate(zip(seconds.tolist(), metrics.tolist(), strict=True))
    ]
    path.with_suffix(".partial").write_bytes(msgspec.json.encode({"benchmarking_results": records}))
    path.with_suffix(".partial").rename(path)
    return path


def fill(url: str, seconds: npt.NDArray[np.int64], metrics: npt.NDArray[np.float64]) -> None:
    store = open_sql_store(database_url(url))
    batch: list[BenchmarkResult] = []
    for index, (second, row) in enumerate(zip(seconds.tolist(), metrics.tolist(), strict=True)):
        batch.append(
            BenchmarkResult(f"req-{index:09d}", int(row[0]), row[1], row[2], row[3], FIRST + timedelta(seconds=second))
        )
        if len(batch) == 10_000:
            store.add(batch)
            batch = []
    store.add(batch)
    store.close()


def numpy_statistics(columns: list[npt.NDArray[np.float64]]) -> list[object]:
    """What the endpoint computes, done by numpy over contiguous columns already in memory."""
    tokens, total = columns[0], columns[3]
    timed = total >= 0.001
    throughput = tokens[timed] / (total[timed] / 1000.0)
    return [
        (
            len(values),
            values.mean(),
            values.min(),
            values.max(),
            values.std(),
            np.percentile(values, DEFAULT_PERCENTILES),
        )
        for values in (*columns, throughput)
    ]


def numpy_seconds(seconds: npt.NDArray[np.int64], metrics: npt.NDArray[np.float64], starts: list[int]) -> list[float]:
    times = []
    for start in starts:
        inside = (seconds >= start) & (seconds < start + DAY)
        columns = [np.ascontiguousarray(metrics[inside, position]) for position in range(4)]
        began = time.perf_counter()
        numpy_statistics(columns)
        times.append(time.perf_counter() - began)
    return times


def endpoint_seconds(env: dict[str, str], starts: list[int]) -> list[float]:
    port = free_port()
    command = [sys.executable, "-m", "src.entrypoints.serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base_url}/healthz", process)
        times = []
        with httpx.Client(base_url=base_url, timeout=120) as client:
            for start in [*starts[:3], *starts]:  # the first three warm up (DEBUG reads its records lazily)
                window = {"start": _iso(start), "end": _iso(start + DAY - 1)}
                began = time.perf_counter()
                response = client.get("/results/stats", params=window)
                times.append(time.perf_counter() - began)
                if response.status_code != 200 or response.json()["groups"][0]["count"] != DAY:
                    raise RuntimeError(f"unexpected answer: {response.status_code} {response.text[:300]}")
        return times[3:]
    finally:
        process.terminate()
        process.wait()


def json_store_cost_by_size(sizes: list[int], windows: int = 15) -> dict[int, float]:
    """Median in-process summarize cost of a 1-day window, data sets of growing size, same density."""
    costs = {}
    for size in sizes:
        seconds, metrics = synthetic_columns(size, seed=size)
        stamps = microseconds_since_epoch(FIRST) + seconds * 1_000_000
        # No input token counts: the metrics compared with numpy's are the averaged ones and throughput.
        no_prompt_tokens = np.full(size, np.nan)
        store = JsonFileResultStore(Path("unused"), ResultColumns(stamps, (*metrics.T.copy(), no_prompt_tokens)))
        generator = np.random.default_rng(3)
        times = []
        for start in generator.integers(0, size - DAY, windows).tolist():
            window = TimeWindow(FIRST + timedelta(seconds=start), FIRST + timedelta(seconds=start + DAY - 1))
            began = time.perf_counter()
            store.summarize(SummaryQuery(ResultFilter(window)))
            times.append(time.perf_counter() - began)
        costs[size] = statistics.median(times) * 1000
    return costs


def _iso(second: int) -> str:
    return (FIRST + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")


@contextmanager
def served_by_every_store(
    seconds: npt.NDArray[np.int64], metrics: npt.NDArray[np.float64], database: str = BENCH_DATABASE
) -> Iterator[dict[str, dict[str, str]]]:
    """The same dense results in the JSON store's file, a SQLite file (kept for the next run) and
    a fresh PostgreSQL database `database` (dropped after): each store's server environment."""
    count = len(seconds)
    base = clean_environment()
    json_path = write_json(WORK / f"dense-{count}.json", seconds, metrics)
    sqlite_path = WORK / f"dense-{count}.sqlite"
    sqlite_url = f"sqlite:///{sqlite_path}"
    if not sqlite_path.exists():
        migrate(connect(database_url(sqlite_url)))
        fill(sqlite_url, seconds, metrics)
    stores = {
        "JSON store": base | {"SUPERBENCHMARK_DEBUG": "true", "SUPERBENCHMARK_DATA_FILE": str(json_path)},
        "SQLite": base | {"SUPERBENCHMARK_DATABASE_URL": sqlite_url},
    }
    postgres_url = fresh_database(database)
    try:
        fill(postgres_url, seconds, metrics)
        # As autovacuum leaves a table in service: planner statistics gathered and hint bits set,
        # so that the first read of each row does not also write it.
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE results")
        stores["PostgreSQL"] = base | {"SUPERBENCHMARK_DATABASE_URL": postgres_url}
        yield stores
    finally:
        drop_database(database)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--windows", type=int, default=30, help="random 1-day windows per store")
    arguments = parser.parse_args()
    # numpy in-process gets the allocator the servers run with, so the two compare like with like.
    tune_allocator()
    count = arguments.results
    seconds, metrics = synthetic_columns(count)
    starts = np.random.default_rng(5).integers(0, count - DAY, arguments.windows).tolist()
    yardstick = statistics.median(numpy_seconds(seconds, metrics, starts))

    with served_by_every_store(seconds, metrics) as stores:
        timings = {name: statistics.median(endpoint_seconds(env, starts)) for name, env in stores.items()}
    growth = json_store_cost_by_size([max(count // 4, 2 * DAY), count, count * 4])

    print(f"\nGET /results/stats on 1-day windows ({DAY:,} results) of {count:,}, medians of {len(starts)} windows\n")
    print("| store | GET /results/stats | numpy in-process | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    for name, seconds_taken in timings.items():
        goal = "report" if name == "PostgreSQL" else "<= 3x"
        print(
            f"| {name} | {seconds_taken * 1000:.1f} ms | {yardstick * 1000:.1f} ms "
            f"| {seconds_taken / yardstick:.2f}x | {goal} |"
        )
    print_cost_table(
        "results in the data set | JSON store, one 1-day window summarised in-process (median)", growth, "ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
