"""Use cases: the average performance over all results, and over a time window."""

from __future__ import annotations

from src.application.ports.result_store import ResultStore
from src.domain.result_aggregate import AverageSummary
from src.domain.time_window import TimeWindow


class AverageOverAllResults:
    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self) -> AverageSummary:
        return self._results.aggregate().summary()


class AverageOverWindow:
    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, window: TimeWindow) -> AverageSummary:
        return self._results.aggregate(window).summary()
