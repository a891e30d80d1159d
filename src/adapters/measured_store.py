"""A result store that times every call of another: the same answers and errors, and the seconds each took."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType

from src.application.ports.result_store import (
    AddOutcome,
    ResultPage,
    ResultQuery,
    ResultStore,
    RunPage,
    RunQuery,
    SummaryKey,
    SummaryQuery,
)
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_columns import ResultColumns
from src.domain.result_selection import ResultFilter
from src.domain.statistics import ResultSummary
from src.domain.time_window import TimeWindow

StoreCallObserver = Callable[[str, float], None]
"""Told of each call when it ends, answered or raised: the port method's name and its duration in seconds."""


class MeasuredResultStore(ResultStore):
    """Wraps any ResultStore; every port method goes to it and `observe` hears how long it took.

    A method the wrapped store inherits from the port (`metric_values`, `aggregate_async`) is timed
    once, as itself, whatever the store does inside it.
    """

    def __init__(self, store: ResultStore, observe: StoreCallObserver) -> None:
        self._store = store
        self._observe = observe

    def _timed(self, operation: str) -> _Timed:
        return _Timed(operation, self._observe)

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        with self._timed("aggregate"):
            return self._store.aggregate(window)

    async def aggregate_async(self, window: TimeWindow | None = None) -> ResultAggregate:
        with self._timed("aggregate_async"):
            return await self._store.aggregate_async(window)

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        with self._timed("summarize"):
            return self._store.summarize(query)

    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        with self._timed("sorted_values"):
            return self._store.sorted_values(selection)

    def metric_values(self, selection: ResultFilter, metric: str) -> tuple[list[float], int]:
        with self._timed("metric_values"):
            return self._store.metric_values(selection, metric)

    def get(self, request_id: str) -> BenchmarkResult | None:
        with self._timed("get"):
            return self._store.get(request_id)

    def page(self, query: ResultQuery) -> ResultPage:
        with self._timed("page"):
            return self._store.page(query)

    def add(self, results: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        with self._timed("add"):
            return self._store.add(results, all_or_nothing=all_or_nothing)

    @property
    def concurrent_batches(self) -> int:
        return self._store.concurrent_batches

    def add_columns(self, columns: ResultColumns, *, all_or_nothing: bool = True) -> AddOutcome:
        with self._timed("add"):
            return self._store.add_columns(columns, all_or_nothing=all_or_nothing)

    def compact(self) -> None:
        with self._timed("compact"):
            self._store.compact()

    async def aclose(self) -> None:
        # Releasing connections at shutdown is no store call worth a histogram.
        await self._store.aclose()

    def check(self) -> None:
        with self._timed("check"):
            self._store.check()

    def runs(self, query: RunQuery) -> RunPage:
        with self._timed("runs"):
            return self._store.runs(query)

    def delete_run(self, run: str) -> int:
        with self._timed("delete_run"):
            return self._store.delete_run(run)


class _Timed:
    """Times a `with` block and tells `observe` how long it took, however it ended. A class, not a
    generator: a contextmanager's generator cost the busiest route a few percent of its time."""

    __slots__ = ("_observe", "_operation", "_started")

    def __init__(self, operation: str, observe: StoreCallObserver) -> None:
        self._operation, self._observe = operation, observe

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._observe(self._operation, time.perf_counter() - self._started)
