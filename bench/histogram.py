"""GET /results/histogram on 1-day windows (86,400 results) from each store, beside GET /results/stats.

The data set of bench/statistics.py (results one second apart, stored in random order) is served by
the JSON store, SQLite and PostgreSQL; for random 1-day windows the median time of a histogram of
time to first token (50 bins, linear and log) is set beside that of /results/stats over the same
window. `python -m bench.histogram --results 200000`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import httpx
import numpy as np

from bench.averages import ROOT, free_port, wait_until_ready
from bench.statistics import DAY, _iso, served_by_every_store, synthetic_columns

# A database of its own, so that it never meets make bench-db's.
_DATABASE = "superbenchmark_bench_histogram"

_QUESTIONS = {
    "histogram, linear": ("/results/histogram", {"metric": "time_to_first_token", "bins": "50"}),
    "histogram, log": ("/results/histogram", {"metric": "time_to_first_token", "bins": "50", "scale": "log"}),
    "stats": ("/results/stats", {}),
}


def endpoint_milliseconds(env: dict[str, str], starts: list[int]) -> dict[str, float]:
    """Median milliseconds of each question over the windows, after three warm-up windows."""
    port = free_port()
    command = [sys.executable, "-m", "src.entrypoints.serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base_url}/healthz", process)
        times: dict[str, list[float]] = {name: [] for name in _QUESTIONS}
        with httpx.Client(base_url=base_url, timeout=120) as client:
            for index, start in enumerate([*starts[:3], *starts]):
                window = {"start": _iso(start), "end": _iso(start + DAY - 1)}
                for name, (path, params) in _QUESTIONS.items():
                    began = time.perf_counter()
                    response = client.get(path, params=window | params)
                    taken = time.perf_counter() - began
                    body = response.json()
                    count = body["count"] if "count" in body else body["groups"][0]["count"]
                    if response.status_code != 200 or count != DAY:
                        raise RuntimeError(f"unexpected answer: {response.status_code} {response.text[:300]}")
                    if index >= 3:
                        times[name].append(taken)
        return {name: statistics.median(taken) * 1000 for name, taken in times.items()}
    finally:
        process.terminate()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=200_000)
    parser.add_argument("--windows", type=int, default=10, help="random 1-day windows per store")
    arguments = parser.parse_args()
    count = arguments.results
    seconds, metrics = synthetic_columns(count)
    starts = np.random.default_rng(5).integers(0, count - DAY, arguments.windows).tolist()
    with served_by_every_store(seconds, metrics, _DATABASE) as stores:
        timings = {name: endpoint_milliseconds(env, starts) for name, env in stores.items()}
    print(f"\n1-day windows ({DAY:,} results) of {count:,}, medians of {len(starts)} windows over HTTP\n")
    print("| store | " + " | ".join(_QUESTIONS) + " |")
    print("|---|" + "---:|" * len(_QUESTIONS))
    for name, found in timings.items():
        print(f"| {name} | " + " | ".join(f"{found[question]:.1f} ms" for question in _QUESTIONS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
