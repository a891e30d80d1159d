"""`make bench-db`, scale-out part: requests/s with 1 and 2 worker processes, and with reads on a
streaming replica, on PostgreSQL, side by side in one run.

N results one second apart are stored in a primary cluster made for the run, with a hot standby
of it (pg_basebackup -R), both on this machine. wrk drives random 1-day windows of
GET /results/average/... and GET /results/stats at a server with 1 worker, with 2, and with 2
reading from the standby; rounds alternate, medians are reported, as ratios to 1 worker.
With 2 cores shared by wrk, the server's workers and PostgreSQL, the gain is bounded by the cores.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.averages import ROOT, clean_environment, free_port, wait_until_ready, wrk_missing
from bench.scale import fill
from bench.statistics import synthetic_columns
from src.adapters.sql_store.database import connect, database_url, migrate
from tests.databases import OwnPostgres

LUA = Path(__file__).resolve().parent / "random_days.lua"
KINDS = ("average", "stats")


def serve(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "src.entrypoints.serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_ready(f"{base_url}/readyz", process)
    return process, base_url


def rate(base_url: str, kind: str, span: int, seconds: int, seed: int) -> float:
    """Requests/s of wrk (1 thread, 16 connections) asking `kind` for random 1-day windows."""
    output = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(LUA), base_url, "--", kind, str(span), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if "Non-2xx" in output or found is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    arguments = parser.parse_args()
    if wrk_missing():
        return 2
    primary = OwnPostgres()
    standby = None
    try:
        primary.start()
        url = primary.url
        engine = connect(database_url(url), pool_size=1)
        migrate(engine)
        engine.dispose()
        seconds, metrics = synthetic_columns(arguments.results)
        fill(url, seconds, metrics, step=1, runs=False)
        standby = OwnPostgres(standby_of=primary)
        standby.start()
        time.sleep(3)  # the standby replays what the base backup left behind
        base = clean_environment() | {"SUPERBENCHMARK_DATABASE_URL": url}
        setups = {
            "1 worker": (base, 1),
            "2 workers": (base, 2),
            "2 workers, reads on the replica": (base | {"SUPERBENCHMARK_READ_DATABASE_URL": standby.url}, 2),
        }
        rates: dict[tuple[str, str], list[float]] = {(name, kind): [] for name in setups for kind in KINDS}
        for round_number in range(arguments.rounds):
            for name, (env, workers) in setups.items():
                process, base_url = serve(env, workers)
                try:
                    for kind in KINDS:
                        found = rate(base_url, kind, arguments.results, arguments.seconds, round_number)
                        rates[(name, kind)].append(found)
                        print(f"round {round_number + 1}, {name}, {kind}: {found:,.0f} req/s", flush=True)
                finally:
                    process.terminate()
                    process.wait()
    finally:
        for cluster in (standby, primary):
            if cluster is not None:
                cluster.stop()
                cluster.remove()
    print(f"\nPostgreSQL, {arguments.results:,} results, random 1-day windows, medians of {arguments.rounds} rounds\n")
    print("| server | averages req/s | vs 1 worker | stats req/s | vs 1 worker |")
    print("|---|---:|---:|---:|---:|")
    for name in setups:
        cells = []
        for kind in KINDS:
            median = statistics.median(rates[(name, kind)])
            cells += [f"{median:,.0f}", f"{median / statistics.median(rates[('1 worker', kind)]):.2f}x"]
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
