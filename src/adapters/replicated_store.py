"""ReplicatedResultStore: reads from a replica of the primary, writes to the primary.

Reads fall back to the primary while the replica cannot answer (StoreUnavailable): a replica
is there to take load off the primary, not to add a way for the service to fail. A result just
written may not be on the replica yet; readers that must see their own writes (an import
reporting what its ids already name) are given the primary itself, not this store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

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
from src.domain.errors import StoreUnavailable
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_columns import ResultColumns
from src.domain.result_selection import ResultFilter
from src.domain.statistics import ResultSummary
from src.domain.time_window import TimeWindow

logger = logging.getLogger(__name__)
T = TypeVar("T")

# While the replica is down one read per this many seconds tries it again; the others go straight
# to the primary, so that an unreachable replica host (a connect timeout each time) does not slow
# every read of the outage.
REPLICA_RETRY_SECONDS = 5.0


class ReplicatedResultStore(ResultStore):
    """Averages, statistics, listings and runs from `replica`; writes and `check` on `primary`.

    The first read the replica fails logs one warning, and reads go to the primary until a retry
    (every `retry_seconds`) finds the replica answering again, which is logged too: one warning per
    outage, not one per request. When the primary fails as well its StoreUnavailable is raised.
    """

    def __init__(
        self,
        primary: ResultStore,
        replica: ResultStore,
        *,
        retry_seconds: float = REPLICA_RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._replica = replica
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        return self._read(lambda store: store.aggregate(window))

    async def aggregate_async(self, window: TimeWindow | None = None) -> ResultAggregate:
        return await self._read_async(lambda store: store.aggregate_async(window))

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        return self._read(lambda store: store.summarize(query))

    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        return self._read(lambda store: store.sorted_values(selection))

    def metric_values(self, selection: ResultFilter, metric: str) -> tuple[list[float], int]:
        return self._read(lambda store: store.metric_values(selection, metric))

    def get(self, request_id: str) -> BenchmarkResult | None:
        return self._read(lambda store: store.get(request_id))

    def page(self, query: ResultQuery) -> ResultPage:
        return self._read(lambda store: store.page(query))

    def runs(self, query: RunQuery) -> RunPage:
        return self._read(lambda store: store.runs(query))

    def add(self, results: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        return self._primary.add(results, all_or_nothing=all_or_nothing)

    @property
    def concurrent_batches(self) -> int:
        return self._primary.concurrent_batches

    def add_columns(self, columns: ResultColumns, *, all_or_nothing: bool = True) -> AddOutcome:
        return self._primary.add_columns(columns, all_or_nothing=all_or_nothing)

    def delete_run(self, run: str) -> int:
        return self._primary.delete_run(run)

    def compact(self) -> None:
        self._primary.compact()

    def check(self) -> None:
        """The primary's check: the service is ready while it answers, whatever the replica's state."""
        self._primary.check()

    async def aclose(self) -> None:
        await self._replica.aclose()
        await self._primary.aclose()

    def _read(self, work: Callable[[ResultStore], T]) -> T:
        if self._replica_wanted():
            try:
                answer = work(self._replica)
            except StoreUnavailable as error:
                self._replica_failed(error)
            else:
                self._replica_answered()
                return answer
        return work(self._primary)

    async def _read_async(self, work: Callable[[ResultStore], Awaitable[T]]) -> T:
        if self._replica_wanted():
            try:
                answer = await work(self._replica)
            except StoreUnavailable as error:
                self._replica_failed(error)
            else:
                self._replica_answered()
                return answer
        return await work(self._primary)

    def _replica_wanted(self) -> bool:
        """Whether this read goes to the replica: always while it answers; while it is down, the
        first read after each retry interval (the others meanwhile go to the primary)."""
        if not self._down:
            return True
        with self._lock:
            now = self._clock()
            if now < self._retry_at:
                return False
            self._retry_at = now + self._retry_seconds
            return True

    def _replica_failed(self, error: StoreUnavailable) -> None:
        with self._lock:
            self._retry_at = self._clock() + self._retry_seconds
            if self._down:
                return
            self._down = True
        logger.warning(
            "the read replica is unavailable; reads go to the primary until it answers again (tried every %g s): %s",
            self._retry_seconds,
            error,
        )

    def _replica_answered(self) -> None:
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
        logger.info("the read replica answers again; reads go to it")
