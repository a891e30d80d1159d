"""`make bench-db`, statistics at scale: PostgreSQL's GET /results/stats and /results/timeseries
beside numpy, in one run.

1. 1-day windows: GET /results/stats (all metrics, default percentiles, over HTTP) on random
   86,400-result windows of a store of N results one second apart, beside numpy computing the
   same over the same values in-process (goal: within 3x).
2. Any window: a year of results, one every 10 s (3,153,600), each day a run of its own and two
   models: GET /results/stats over the whole year, GET /results/timeseries over it with 1-day
   buckets, the year filtered to one run (label=run:...), and grouped by model, each set beside
   the 1-day time of goal 1 (goal: within 3x).
3. Accuracy: every percentile the answers give beside numpy's exact one on the same values
   (goal: within the stated relative accuracy), and count, mean, min, max and stddev exact.
Medians of the windows; each store is served by one worker process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import psycopg

from bench.averages import clean_environment
from bench.database import drop_database, fresh_database, serve
from bench.statistics import numpy_seconds, numpy_statistics, synthetic_columns
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.postgres.store import PostgresResultStore
from src.adapters.sql_store.stores import open_sql_store
from src.domain.benchmark_result import BenchmarkResult
from src.domain.statistics import DEFAULT_PERCENTILES, STATISTIC_METRICS
from src.entrypoints.allocator import tune_allocator

FIRST = datetime(2024, 1, 1, tzinfo=UTC)
DAY = 86_400
YEAR_STEP = 10
MODELS = ("llama-3-8b", "mistral-7b")
DENSE_DATABASE = "superbenchmark_bench_dense"
YEAR_DATABASE = "superbenchmark_bench_year"
_BATCH = 50_000


def fill(url: str, seconds: npt.NDArray[np.int64], metrics: npt.NDArray[np.float64], *, step: int, runs: bool) -> None:
    """Store one result per entry through the store's own add: `seconds[i] * step` after FIRST;
    with `runs`, each day's results are the run day-<n>, and the model alternates."""
    store = open_sql_store(database_url(url))
    assert isinstance(store, PostgresResultStore)
    batch: list[BenchmarkResult] = []
    for index, (second, row) in enumerate(zip(seconds.tolist(), metrics.tolist(), strict=True)):
        at = second * step
        described: dict[str, Any] = (
            {"model": MODELS[index % 2], "labels": {"run": f"day-{at // DAY:03d}"}} if runs else {}
        )
        batch.append(
            BenchmarkResult(
                f"req-{index:09d}", int(row[0]), row[1], row[2], row[3], FIRST + timedelta(seconds=at), **described
            )
        )
        if len(batch) == _BATCH:
            store.add(batch)
            batch = []
    store.add(batch)
    # As an import has done behind it once its last batch is stored: a bucket's summary parts merged into one.
    began = time.perf_counter()
    store.compact_now()
    print(f"summaries' parts merged in {time.perf_counter() - began:.1f} s", flush=True)
    store.close()


def _iso(second: int) -> str:
    return (FIRST + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")


def timed(client: httpx.Client, path: str, params: dict[str, str], repeats: int) -> tuple[list[float], Any]:
    """Seconds of `repeats` requests after one warm-up, and the last answer."""
    client.get(path, params=params).raise_for_status()
    times, body = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        response = client.get(path, params=params)
        times.append(time.perf_counter() - began)
        response.raise_for_status()
        body = response.json()
    return times, body


def accuracy(summary: dict[str, Any], columns: list[npt.NDArray[np.float64]]) -> tuple[float, float]:
    """The largest relative error of the summary's percentiles and of its mean, min, max and
    stddev against numpy's exact values of `columns` (the stored metrics, then throughput)."""
    worst_percentile = worst_moment = 0.0
    exact = numpy_statistics(columns)
    # numpy_statistics gives the four averaged metrics, then throughput (no input tokens here).
    compared = [metric for metric in STATISTIC_METRICS if metric != "prompt_token_count"]
    exact_values: list[Any] = exact
    for metric, values in zip(compared, exact_values, strict=True):
        count, mean, low, high, spread, quantiles = values
        found = summary["metrics"][metric]
        if found["count"] != count:
            raise RuntimeError(f"{metric}: count {found['count']} != {count}")
        for name, wanted in (("mean", mean), ("min", low), ("max", high), ("stddev", spread)):
            worst_moment = max(worst_moment, abs(found[name] - wanted) / abs(wanted))
        for q, wanted in zip(DEFAULT_PERCENTILES, quantiles, strict=True):
            name = f"p{q:g}"
            worst_percentile = max(worst_percentile, abs(found[name] - wanted) / wanted)
    return worst_percentile, worst_moment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=1_000_000, help="results of the 1-day data set")
    parser.add_argument("--windows", type=int, default=20, help="random 1-day windows")
    parser.add_argument("--repeats", type=int, default=7, help="requests per year-long measure")
    parser.add_argument("--year-step", type=int, default=YEAR_STEP, help="seconds between the year's results")
    arguments = parser.parse_args()
    # numpy in-process gets the allocator the servers run with, so the two compare like with like.
    tune_allocator()
    base = clean_environment()
    rows: list[str] = []

    seconds, metrics = synthetic_columns(arguments.results)
    starts = np.random.default_rng(5).integers(0, arguments.results - DAY, arguments.windows).tolist()
    yardstick = statistics.median(numpy_seconds(seconds, metrics, starts))
    dense_url = fresh_database(DENSE_DATABASE)
    try:
        began = time.perf_counter()
        fill(dense_url, seconds, metrics, step=1, runs=False)
        print(f"dense: {arguments.results:,} results stored in {time.perf_counter() - began:.0f} s", flush=True)
        with psycopg.connect(dense_url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        process, base_url = serve(base | {"SUPERBENCHMARK_DATABASE_URL": dense_url})
        day_times, worst = [], (0.0, 0.0)
        try:
            with httpx.Client(base_url=base_url, timeout=300) as client:
                for start in starts:
                    window = {"start": _iso(start), "end": _iso(start + DAY - 1)}
                    took, body = timed(client, "/results/stats", window, 1)
                    day_times += took
                    inside = (seconds >= start) & (seconds < start + DAY)
                    columns = [np.ascontiguousarray(metrics[inside, position]) for position in range(4)]
                    found = accuracy(body["groups"][0], columns)
                    worst = (max(worst[0], found[0]), max(worst[1], found[1]))
                    method = body["groups"][0]["percentiles"]
        finally:
            process.terminate()
            process.wait()
    finally:
        drop_database(DENSE_DATABASE)
    one_day = statistics.median(day_times)
    rows.append(
        f"| 1-day stats ({DAY:,} results, {method}) | {one_day * 1000:.1f} ms | numpy {yardstick * 1000:.1f} ms "
        f"| {one_day / yardstick:.2f}x | <= 3x |"
    )
    accuracy_rows = [f"| 1-day windows | {worst[0]:.4f} | {worst[1]:.1e} |"]

    year_results = 365 * DAY // arguments.year_step
    year_seconds, year_metrics = synthetic_columns(year_results, seed=17)
    year_url = fresh_database(YEAR_DATABASE)
    try:
        began = time.perf_counter()
        fill(year_url, year_seconds, year_metrics, step=arguments.year_step, runs=True)
        print(f"year: {year_results:,} results stored in {time.perf_counter() - began:.0f} s", flush=True)
        with psycopg.connect(year_url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        process, base_url = serve(base | {"SUPERBENCHMARK_DATABASE_URL": year_url})
        year = {"start": _iso(0), "end": _iso(365 * DAY - 1)}
        measures = {
            "year stats": ("/results/stats", year),
            "year timeseries, 1-day buckets": ("/results/timeseries", year | {"bucket": "1d"}),
            "year stats, label=run:day-200": ("/results/stats", year | {"label": "run:day-200"}),
            "year stats, group_by=model": ("/results/stats", year | {"group_by": "model"}),
        }
        try:
            with httpx.Client(base_url=base_url, timeout=600) as client:
                for name, (path, params) in measures.items():
                    took, body = timed(client, path, params, arguments.repeats)
                    median = statistics.median(took)
                    first = (body.get("groups") or body.get("series")[0]["buckets"])[0]
                    yardstick_text = f"1-day stats {one_day * 1000:.1f} ms"
                    rows.append(
                        f"| {name} ({first['percentiles']}) | {median * 1000:.1f} ms | {yardstick_text} "
                        f"| {median / one_day:.2f}x | <= 3x |"
                    )
                    if name == "year stats":
                        columns = [np.ascontiguousarray(year_metrics[:, position]) for position in range(4)]
                        found = accuracy(body["groups"][0], columns)
                        accuracy_rows.append(f"| the year | {found[0]:.4f} | {found[1]:.1e} |")
        finally:
            process.terminate()
            process.wait()
    finally:
        drop_database(YEAR_DATABASE)

    counts = f"1-day: {len(starts)} windows; year: {arguments.repeats} requests"
    print(f"\nPostgreSQL statistics at scale, medians ({counts})\n")
    print("| measure | PostgreSQL store | yardstick | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    print("\n".join(rows))
    print("\n| answers | worst percentile error (relative) | worst mean/min/max/stddev error (relative) |")
    print("|---|---:|---:|")
    print("\n".join(accuracy_rows))
    print("(goal: percentiles within 0.01, the stated relative accuracy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
