"""`make bench`: the JSON store's startup, memory and throughput beside their yardsticks, in one run.

Side by side, same interpreter, medians of several rounds, reported as ratios:
- startup-to-ready of the server vs stdlib `json.load` of the same file (goal <= 1.0x);
- peak RSS of the server vs that `json.load` (goal <= 1.0x);
- requests/s on random windows vs a constant-body FastAPI app on the same routes, one worker
  each, driven by wrk (goal >= 0.8x);
and, in-process, the cost of one window query as the data set grows (it should not).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from bench.synthetic_results import FIRST_INSTANT, SPAN, write_synthetic_results
from src.adapters.json_store.result_file import ResultColumns
from src.adapters.window_index import WindowIndex
from src.domain.timestamps import microseconds_since_epoch

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"
LUA = Path(__file__).with_name("random_windows.lua")
JSON_LOAD = "import json, sys\nwith open(sys.argv[1], encoding='utf-8') as f: json.load(f)"


@dataclass
class Process:
    seconds: float
    peak_rss_mib: float


@dataclass
class Server:
    ready_seconds: float
    requests_per_second: float
    peak_rss_mib: float


def clean_environment() -> dict[str, str]:
    """This process's environment without SUPERBENCHMARK_ settings: each server gets only its own."""
    return {key: value for key, value in os.environ.items() if not key.startswith("SUPERBENCHMARK_")}


def wrk_missing() -> bool:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return True
    return False


def print_cost_table(heading: str, costs: dict[int, float], unit: str) -> None:
    """A Markdown table of a cost by data-set size."""
    print(f"\n| {heading} |")
    print("|---:|---:|")
    for size, cost in costs.items():
        print(f"| {size:,} | {cost:.1f} {unit} |")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def reap(process: subprocess.Popen[bytes]) -> float:
    """Wait for the process; its peak resident set size in MiB (Linux reports KiB)."""
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return usage.ru_maxrss / 1024


def json_load(path: Path) -> Process:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", JSON_LOAD, str(path)])
    peak = reap(process)
    return Process(time.perf_counter() - started, peak)


def serve_and_load(command: list[str], env: dict[str, str], port: int, seconds: int, seed: int) -> Server:
    base_url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        ready = wait_until_ready(f"{base_url}/results/average", process) - started
        rate = wrk(base_url, seconds, seed)
    finally:
        process.terminate()
    return Server(ready, rate, reap(process))


def wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> float:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.perf_counter()
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode} before it was ready") from None
            time.sleep(0.005)


def wrk(base_url: str, seconds: int, seed: int) -> float:
    output = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(LUA), base_url, "--", str(seed)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"some requests failed:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return float(match.group(1))


def query_cost_microseconds(sizes: list[int], queries: int = 20_000) -> dict[int, float]:
    """Median cost of one random 1-day window query on indexes of growing size, in-process."""
    generator = np.random.default_rng(7)
    span = SPAN // timedelta(microseconds=1)
    day = timedelta(days=1) // timedelta(microseconds=1)
    first = microseconds_since_epoch(FIRST_INSTANT)
    costs = {}
    for size in sizes:
        metrics = [generator.uniform(0, 1000, size) for _ in range(4)]
        metrics.append(np.full(size, np.nan))  # no input token counts, which no average reads
        index = WindowIndex(ResultColumns(first + generator.integers(0, span, size), tuple(metrics)))
        starts = (first + generator.integers(0, span, queries)).tolist()
        costs[size] = statistics.median(_time_per_query(index, batch, day) for batch in _batches(starts, 5))
    return costs


def _batches(values: list[int], count: int) -> list[list[int]]:
    size = len(values) // count
    return [values[position : position + size] for position in range(0, size * count, size)]


def _time_per_query(index: WindowIndex, starts: list[int], length: int) -> float:
    started = time.perf_counter()
    for start in starts:
        index.aggregate_between(start, start + length)
    return (time.perf_counter() - started) / len(starts) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=1_000_000, help="size of the synthetic data set")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per server per round")
    arguments = parser.parse_args()
    if wrk_missing():
        return 2

    path = write_synthetic_results(WORK / f"results-{arguments.results}.json", arguments.results)
    env = clean_environment()
    env |= {"SUPERBENCHMARK_DEBUG": "true", "SUPERBENCHMARK_DATA_FILE": str(path)}
    print(f"data: {path.name}, {path.stat().st_size / 2**20:.0f} MiB, {arguments.results:,} results", flush=True)

    loads, ours, constants = [], [], []
    for round_number in range(arguments.rounds):
        loads.append(json_load(path))
        port = free_port()
        service = [sys.executable, "-m", "src.entrypoints.serve", "--port", str(port), "--log-level", "warning"]
        ours.append(serve_and_load(service, env, port, arguments.seconds, round_number))
        port = free_port()
        constant = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.constant_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        constants.append(serve_and_load(constant, env, port, arguments.seconds, round_number))
        print(
            f"round {round_number + 1}: json.load {loads[-1]}; server {ours[-1]}; constant-body app {constants[-1]}",
            flush=True,
        )

    def median(values: list[float]) -> float:
        return statistics.median(values)

    load_seconds = median([load.seconds for load in loads])
    load_rss = median([load.peak_rss_mib for load in loads])
    ready = median([server.ready_seconds for server in ours])
    rss = median([server.peak_rss_mib for server in ours])
    rate = median([server.requests_per_second for server in ours])
    constant_rate = median([server.requests_per_second for server in constants])
    costs = query_cost_microseconds([10_000, 100_000, 1_000_000, 10_000_000])

    print(f"\n{arguments.results:,} results, medians of {arguments.rounds} rounds\n")
    print("| measure | SuperBenchmark | yardstick | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| startup to ready | {ready:.2f} s | json.load {load_seconds:.2f} s | {ready / load_seconds:.2f}x | <= 1.0x |"
    )
    print(f"| peak RSS | {rss:.0f} MiB | json.load {load_rss:.0f} MiB | {rss / load_rss:.2f}x | <= 1.0x |")
    print(
        f"| random-window requests/s | {rate:,.0f} | constant body {constant_rate:,.0f} "
        f"| {rate / constant_rate:.2f}x | >= 0.8x |"
    )
    print_cost_table("results indexed | one 1-day window query (in-process, median)", costs, "µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
