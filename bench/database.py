"""`make bench-db`: the PostgreSQL store beside its yardsticks, side by side in one run.

- Ingestion: N results streamed through POST /results/import (validation, idempotency checks,
  rollups) vs a raw COPY of the same rows into a table with the same indexes (goal >= 0.5x).
- Window averages: requests/s on random windows over PostgreSQL vs the JSON store on the same
  N results, one worker each, driven by wrk after 3 s of warm-up (goal >= 0.8x).
Medians of several rounds, reported as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

from bench.averages import WORK, clean_environment, free_port, reap, wait_until_ready, wrk, wrk_missing
from bench.synthetic_results import write_synthetic_results
from src.adapters.sql_store.database import connect, database_url, migrate
from src.domain.timestamps import microseconds_since_epoch, parse_timestamp

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("SUPERBENCHMARK_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Another name (SUPERBENCHMARK_BENCH_DATABASE) keeps two benches on one server apart.
BENCH_DATABASE = os.environ.get("SUPERBENCHMARK_BENCH_DATABASE", "superbenchmark_bench")
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", BENCH_DATABASE):
    raise SystemExit(f"SUPERBENCHMARK_BENCH_DATABASE must be a plain lower-case name, got {BENCH_DATABASE!r}")
KEY = "bench-writer-key-0123456789"
ORDERS = ("random-order", "time-ordered")
_COPY_COLUMNS = (
    "request_id, recorded_at_us, token_count, time_to_first_token, time_per_output_token, "
    "total_generation_time, prompt_text, generated_text, model, labels"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def ndjson_and_copy_files(json_path: Path) -> dict[str, tuple[Path, Path]]:
    """The same results as NDJSON lines (for the import) and as COPY text rows (for the yardstick),
    in the file's random order and sorted by time, as a load test writes them."""
    files = {
        order: (json_path.with_suffix(f".{order}.ndjson"), json_path.with_suffix(f".{order}.copy")) for order in ORDERS
    }
    if all(path.exists() for pair in files.values() for path in pair):
        return files
    lines = []
    with json_path.open(encoding="utf-8") as source:
        for line in source:
            text = line.strip().rstrip(",")
            if text.startswith("{") and not text.startswith('{"benchmarking_results"'):
                record = json.loads(text)
                lines.append((microseconds_since_epoch(parse_timestamp(record["timestamp"])), text, record))
    for order, (ndjson, rows) in files.items():
        ordered = sorted(lines, key=lambda line: line[0]) if order == "time-ordered" else lines
        with ndjson.open("w") as lines_out, rows.open("w") as table:
            for instant, text, record in ordered:
                lines_out.write(text + "\n")
                fields = [
                    record["request_id"],
                    str(instant),
                    str(record["token_count"]),
                    repr(float(record["time_to_first_token"])),
                    repr(float(record["time_per_output_token"])),
                    repr(float(record["total_generation_time"])),
                    record["prompt_text"],
                    record["generated_text"],
                    "\\N",
                    "{}",
                ]
                table.write("\t".join(field.translate(_COPY_ESCAPES) for field in fields) + "\n")
    return files


def fresh_database(name: str = BENCH_DATABASE) -> str:
    """An empty database `name` (one of the benches' constant names) at this version's schema,
    next to ADMIN_URL's; its URL."""
    drop_database(name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # a constant name
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = connect(database_url(url), pool_size=1)
    migrate(engine)
    engine.dispose()
    return url


def drop_database(name: str = BENCH_DATABASE) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # a constant name


def emptied(url: str) -> None:
    """No results, rollups or summaries, everything flushed: each import starts from the same state
    (summaries left by a previous round would make the next import merge into them)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE results, result_rollups, result_summaries")
        connection.execute("DROP TABLE IF EXISTS copy_target")
        connection.execute("CHECKPOINT")


def raw_copy(url: str, rows: Path) -> float:
    """Seconds to COPY the rows into a table shaped and indexed like `results`."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE copy_target (LIKE results INCLUDING ALL)")
        started = time.perf_counter()
        # The synthetic results have no input token count and no error: those columns stay NULL.
        with (
            connection.cursor().copy(f"COPY copy_target ({_COPY_COLUMNS}) FROM STDIN") as copy,
            rows.open("rb") as source,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        return time.perf_counter() - started


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A server process (one worker) with `env`, ready; the process and its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "src.entrypoints.serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_ready(f"{base_url}/readyz", process)
    return process, base_url


def blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(1 << 16):
            yield block


def http_import(
    base_url: str,
    path: Path,
    expected: int,
    content_type: str = "application/x-ndjson",
    params: dict[str, str] | None = None,
) -> float:
    """Seconds from sending the file to POST /results/import until its report has arrived, the
    file streamed from disk; RuntimeError unless the report says all `expected` results were stored."""
    started = time.perf_counter()
    response = httpx.post(
        f"{base_url}/results/import",
        content=blocks(path),
        params=params,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": content_type},
        timeout=None,
    )
    seconds = time.perf_counter() - started
    report = response.json()
    if response.status_code != 200 or report["stored"] != expected or report["rejected"]:
        raise RuntimeError(f"the import did not store every result: {response.status_code} {report}")
    return seconds


def warm_up(base_url: str, seconds: float = 3.0) -> None:
    """Ask for averages for `seconds` before measuring: a PostgreSQL-backed server loads its copy of
    the results after its first averages request (some 1.3 s for 1,000,000 results); the JSON
    store gets the same, so both are measured as a server in service."""
    deadline = time.perf_counter() + seconds
    with httpx.Client(base_url=base_url) as client:
        while time.perf_counter() < deadline:
            client.get("/results/average").raise_for_status()
            time.sleep(0.05)


_TABLE_HEAD = "| measure | PostgreSQL store | yardstick | ratio | goal |\n|---|---:|---:|---:|---|"


def _print_ingestion(
    count: int, copies: dict[str, list[float]], imports: dict[str, list[float]], settled: dict[str, list[float]]
) -> None:
    """The ingestion rows of the table: per order, the median import beside the median COPY, and
    the median time until the summaries' parts were merged behind the import (the server stopped)."""
    for order in ORDERS:
        copy_s = statistics.median(copies[order])
        for measure, seconds in (("ingest", imports[order]), ("ingest and merge", settled[order])):
            import_s = statistics.median(seconds)
            goal = ">= 0.5x" if measure == "ingest" else "(beside it)"
            print(
                f"| {measure}, {order} | {import_s:.1f} s ({count / import_s:,.0f}/s) "
                f"| raw COPY {copy_s:.1f} s ({count / copy_s:,.0f}/s) | {copy_s / import_s:.2f}x | {goal} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per server per round")
    parser.add_argument("--ingest-only", action="store_true", help="measure ingestion only, not window averages")
    arguments = parser.parse_args()
    if not arguments.ingest_only and wrk_missing():
        return 2
    json_path = write_synthetic_results(WORK / f"results-{arguments.results}.json", arguments.results)
    files = ndjson_and_copy_files(json_path)
    url = fresh_database()
    base_env = clean_environment()
    sql_env = base_env | {"SUPERBENCHMARK_DATABASE_URL": url, "SUPERBENCHMARK_API_KEYS": KEY}
    json_env = base_env | {"SUPERBENCHMARK_DEBUG": "true", "SUPERBENCHMARK_DATA_FILE": str(json_path)}
    print(f"data: {arguments.results:,} results; PostgreSQL database {BENCH_DATABASE}", flush=True)

    copies: dict[str, list[float]] = {order: [] for order in ORDERS}
    imports: dict[str, list[float]] = {order: [] for order in ORDERS}
    settled: dict[str, list[float]] = {order: [] for order in ORDERS}
    for round_number in range(arguments.rounds):
        for order, (ndjson, rows) in files.items():
            emptied(url)
            copies[order].append(raw_copy(url, rows))
            emptied(url)
            process, base_url = serve(sql_env)
            try:
                imports[order].append(http_import(base_url, ndjson, arguments.results))
            finally:
                # A server stops once the summaries' merging left behind the import has ended.
                stopping = time.perf_counter()
                process.terminate()
                reap(process)
            settled[order].append(imports[order][-1] + time.perf_counter() - stopping)
            print(
                f"round {round_number + 1}, {order}: COPY {copies[order][-1]:.1f} s, "
                f"import {imports[order][-1]:.1f} s, merged behind it {settled[order][-1]:.1f} s",
                flush=True,
            )

    if arguments.ingest_only:
        print(f"\n{arguments.results:,} results, medians of {arguments.rounds} rounds\n")
        print(_TABLE_HEAD)
        _print_ingestion(arguments.results, copies, imports, settled)
        return 0
    # A settled database, as a server in service would query: statistics current, nothing left to flush.
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")
    sql_rates: list[float] = []
    json_rates: list[float] = []
    for round_number in range(arguments.rounds):
        for env, rates in ((sql_env, sql_rates), (json_env, json_rates)):
            process, base_url = serve(env)
            try:
                warm_up(base_url)
                rates.append(wrk(base_url, arguments.seconds, round_number))
            finally:
                process.terminate()
                reap(process)
        print(
            f"round {round_number + 1}: PostgreSQL {sql_rates[-1]:,.0f} req/s, JSON {json_rates[-1]:,.0f} req/s",
            flush=True,
        )

    sql_rate, json_rate = statistics.median(sql_rates), statistics.median(json_rates)
    print(f"\n{arguments.results:,} results, medians of {arguments.rounds} rounds\n")
    print(_TABLE_HEAD)
    _print_ingestion(arguments.results, copies, imports, settled)
    ratio = sql_rate / json_rate
    print(f"| random-window requests/s | {sql_rate:,.0f} | JSON store {json_rate:,.0f} | {ratio:.2f}x | >= 0.8x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
