"""The service's Prometheus metrics: what they are, how each process records them, and the text a scrape reads.

One `Metrics` per app. With one process its metrics live in a registry of its own, so apps built
side by side (tests) never share counts. With several worker processes (uvicorn `--workers`), the
environment variable PROMETHEUS_MULTIPROC_DIR names a directory, set before the workers start
(`python -m src.entrypoints.serve --workers N` makes a fresh one): prometheus-client then keeps
every value in a file per process there, and a scrape, answered by any one worker, adds up the
files of all of them. Counters and histograms of a worker that exited still count; the gauges of
the workers alive are summed (`livesum`), and a dead worker's are dropped (`mark_process_dead`).
"""

from __future__ import annotations

import asyncio
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route matched: never its path, which the client chooses."""
# Seconds. From a cached average (about a millisecond) to a large import (minutes).
_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# How often a worker records its pool's use when another worker may answer the scrape.
POOL_SAMPLE_SECONDS = 1.0
# The file names prometheus-client gives the live gauges of a process: gauge_live<mode>_<pid>.db.
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


@runtime_checkable
class ReportsPoolUse(Protocol):
    """A store with a connection pool that can say how many of its connections are checked out now."""

    def pool_in_use(self) -> int: ...


def build_version() -> str:
    """This installation's version, from the package metadata; `unknown` when it is not installed."""
    try:
        return metadata.version("superbenchmark")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """The app's metrics (names, labels and units in README, "Metrics") and their exposition."""

    def __init__(self) -> None:
        directory = os.environ.get(MULTIPROCESS_DIRECTORY)
        self._directory = Path(directory) if directory else None
        # Several processes: values go to files and a fresh registry gathers them at each scrape.
        registry = None if self._directory else CollectorRegistry()
        self._registry = registry
        self._http_requests = Counter(
            "superbenchmark_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self._http_seconds = Histogram(
            "superbenchmark_http_request_duration_seconds",
            "Seconds from a request's arrival at the app to the end of its answer, by method and route template.",
            ["method", "route"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self._store_seconds = Histogram(
            "superbenchmark_store_call_duration_seconds",
            "Seconds a call of the result store took, answered or raised, by operation (the port's method).",
            ["operation"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self._imported = Counter(
            "superbenchmark_import_results",
            "Requests of imports (POST /results/import) by format and outcome: stored, already_stored, "
            "rejected; failed counts the failed requests among those stored or already stored.",
            ["format", "outcome"],
            registry=registry,
        )
        self._pool_in_use = Gauge(
            "superbenchmark_database_pool_connections_in_use",
            "Connections of the database pool checked out now, summed over the live worker processes.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._pool: ReportsPoolUse | None = None
        # Label sets are few (routes by template, statuses, the port's methods), so these stay small.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._store_children: dict[str, Histogram] = {}
        build = Gauge(
            "superbenchmark_build_info",
            "Always 1; the version label names the running build.",
            ["version"],
            multiprocess_mode="max",
            registry=registry,
        )
        build.labels(build_version()).set(1)

    @property
    def multiprocess(self) -> bool:
        return self._directory is not None

    def watch_pool(self, store: object) -> None:
        """Report `store`'s pool in the connections-in-use gauge, if it has a pool to report (ReportsPoolUse)."""
        if isinstance(store, ReportsPoolUse):
            self._pool = store
            self.sample_pool()

    def sample_pool(self) -> None:
        if self._pool is not None:
            self._pool_in_use.set(self._pool.pool_in_use())

    async def sample_pool_forever(self) -> None:
        """Record the pool's use every POOL_SAMPLE_SECONDS: with several workers a scrape cannot ask the others."""
        while True:
            self.sample_pool()
            await asyncio.sleep(POOL_SAMPLE_SECONDS)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # Each label set's child is looked up once: labels() takes a lock and builds its key anew.
        counted = self._children.get((method, route, status))
        if counted is None:
            counted = self._children[method, route, status] = (
                self._http_requests.labels(method, route, str(status)),
                self._http_seconds.labels(method, route),
            )
        counter, histogram = counted
        counter.inc()
        histogram.observe(seconds)

    def observe_store_call(self, operation: str, seconds: float) -> None:
        histogram = self._store_children.get(operation)
        if histogram is None:
            histogram = self._store_children[operation] = self._store_seconds.labels(operation)
        histogram.observe(seconds)

    def count_import(self, file_format: str, counts: dict[str, int]) -> None:
        """Add an import's counts (outcome -> requests: stored, already_stored, rejected, failed) under its format."""
        for outcome, count in counts.items():
            if count:
                self._imported.labels(file_format, outcome).inc(count)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format (METRICS_MEDIA_TYPE), of all the workers."""
        self.sample_pool()
        if self._directory is None:
            assert self._registry is not None
            return generate_latest(self._registry)
        self._forget_dead_workers(self._directory)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self._directory))
        return generate_latest(registry)

    def process_exits(self) -> None:
        """This worker stops: its live gauges no longer count."""
        if self._directory is not None:
            mark_process_dead(os.getpid(), str(self._directory))

    @staticmethod
    def _forget_dead_workers(directory: Path) -> None:
        # A worker that was killed never said it exited; its last pool sample would count forever.
        for path in directory.glob("gauge_live*_*.db"):
            found = _LIVE_GAUGE_FILE.fullmatch(path.name)
            if found and not _alive(int(found.group(1))):
                mark_process_dead(int(found.group(1)), str(directory))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True
