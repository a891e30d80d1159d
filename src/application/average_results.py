"""Use cases: the average performance over all results, and over a time window.

They are coroutines: averages are the busiest questions, and a database store answers them
without a worker thread per request.
"""

from __future__ import annotations

from src.application.ports.result_store import ResultStore
from src.domain.result_aggregate import AverageSummary
from src.domain.time_window import TimeWindow


class AverageOverAllResults:
    def __init__(self, results: ResultStore) -> None:
        self._results = results

    async def __call__(self) -> AverageSummary:
        return (await self._results.aggregate_async()).summary()


class AverageOverWindow:
    def __init__(self, results: ResultStore) -> None:
        self._results = results

    async def __call__(self, window: TimeWindow) -> AverageSummary:
        return (await self._results.aggregate_async(window)).summary()
