"""A hand-written store for unit tests: the simplest thing that honours the port."""

from __future__ import annotations

from src.application.ports.result_store import ResultStore
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow


class FakeResultStore(ResultStore):
    def __init__(self, results: list[BenchmarkResult]) -> None:
        self.results = list(results)

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        return ResultAggregate.of(result for result in self.results if window is None or result.timestamp in window)
