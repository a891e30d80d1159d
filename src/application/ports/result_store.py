"""The port every result store implements, and the shapes of its questions and answers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_columns import ResultColumns
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.runs import RunKey, RunSummary
from src.domain.statistics import DEFAULT_PERCENTILES, ResultSummary, ServiceLevelObjective
from src.domain.time_window import TimeWindow

MAX_PAGE_SIZE = 1000

SummaryKey = tuple[str | None, int | None]
"""Where a summary belongs: (group value, bucket index). The group is None when results are not
grouped, or for the results without the grouping's model or label; the bucket is None when results
are not bucketed."""


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    selection: ResultFilter = field(default_factory=ResultFilter)
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    objective: ServiceLevelObjective | None = None
    """When given, each summary counts the results that meet it (goodput)."""
    group_by: Grouping | None = None
    bucket_width: int | None = None
    """Microseconds; results fall in bucket timestamp // bucket_width (counted from the epoch)."""


@dataclass(frozen=True, slots=True, order=True)
class PageKey:
    """Results are listed in (timestamp, request_id) order; a page resumes after its predecessor's last key."""

    timestamp: datetime
    request_id: str

    @classmethod
    def of(cls, result: BenchmarkResult) -> PageKey:
        return cls(result.timestamp, result.request_id)


@dataclass(frozen=True, slots=True)
class ResultQuery:
    window: TimeWindow | None = None
    model: str | None = None
    limit: int = 100
    after: PageKey | None = None
    labels: tuple[tuple[str, str], ...] = ()
    """Labels every listed result carries (a run's pages: ("run", name))."""

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"a page holds 1 to {MAX_PAGE_SIZE} results, not {self.limit}")

    @property
    def selection(self) -> ResultFilter:
        """Which results the pages hold, as statistics select them."""
        return ResultFilter(self.window, self.model, self.labels)


@dataclass(frozen=True, slots=True)
class ResultPage:
    results: list[BenchmarkResult]
    next: PageKey | None
    """Where the next page starts; None when this page is the last."""


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Runs formed by the results `selection` admits (its window is ignored), newest first."""

    selection: ResultFilter = field(default_factory=ResultFilter)
    limit: int = 100
    after: RunKey | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"a page holds 1 to {MAX_PAGE_SIZE} runs, not {self.limit}")


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: list[RunSummary]
    next: RunKey | None
    """Where the next page starts; None when this page is the last."""

    @classmethod
    def of(cls, newest_first: Sequence[RunSummary], query: RunQuery) -> RunPage:
        """The page `query` asks for out of every run, given newest first (as summarize_runs gives them)."""
        after = [summary for summary in newest_first if query.after is None or summary.key < query.after]
        more = len(after) > query.limit
        return cls(after[: query.limit], after[query.limit - 1].key if more else None)


@dataclass(frozen=True, slots=True)
class AddOutcome:
    stored: int
    """Results that were new and are now stored."""
    already_stored: int
    """Results identical to ones already stored: nothing was written for them."""
    conflicting: tuple[str, ...] = ()
    """request_ids already naming stored results with other content; nothing was written for them.
    Only an add that keeps the others (all_or_nothing=False) returns any."""


class ResultStore(ABC):
    """Where benchmark results are kept.

    Aggregates are computed where the data lives (an index, a database) and handed over as an
    aggregate, never as rows. Every method may raise StoreUnavailable when the store cannot answer.
    """

    @abstractmethod
    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        """The aggregate of every result whose timestamp lies in `window` (all results if None)."""

    async def aggregate_async(self, window: TimeWindow | None = None) -> ResultAggregate:
        """`aggregate` for callers on an event loop. This default suits stores that answer from
        memory in microseconds; a store that waits on a database overrides it so as not to block."""
        return self.aggregate(window)

    @abstractmethod
    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        """The summary of the selected results in every (group, bucket) that holds any.

        Percentiles interpolate linearly; stores may compute where the data lives, and are held
        to the domain's `summarize` on the same results.
        """

    @abstractmethod
    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        """Each of STATISTIC_METRICS's values over the selected results, in ascending order
        (throughput only where it is defined)."""

    def metric_values(self, selection: ResultFilter, metric: str) -> tuple[list[float], int]:
        """One of STATISTIC_METRICS's values over the selected successful results that have it, in
        ascending order, and how many selected results failed. This default reads every metric
        (sorted_values) and a summary; stores override it to read the one metric."""
        values = self.sorted_values(selection)[metric]
        found = self.summarize(SummaryQuery(selection, percentiles=()))
        return values, sum(summary.failed for summary in found.values())

    @abstractmethod
    def get(self, request_id: str) -> BenchmarkResult | None:
        """The result with this request_id, or None."""

    @abstractmethod
    def page(self, query: ResultQuery) -> ResultPage:
        """Up to `query.limit` matching results in (timestamp, request_id) order, after `query.after`."""

    @abstractmethod
    def add(self, results: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        """Store results with distinct request_ids in one transaction.

        A result identical to a stored one is counted as already stored. A result that reuses a
        stored request_id with other content is a conflict: all or nothing, any conflict raises
        ResultConflict naming every such id, and nothing is stored; otherwise the others are
        stored and the conflicting ids are returned. Either way the outcome is exactly what was
        committed, whatever concurrent writers did meanwhile.
        """

    @property
    def concurrent_batches(self) -> int:
        """How many batches an import may store at once, each its own transaction (1: one after
        another). A database that stores one batch while another commits says more."""
        return 1

    def add_columns(self, columns: ResultColumns, *, all_or_nothing: bool = True) -> AddOutcome:
        """As `add`, for results held as columns (an import's batch); by default as `add` of
        their BenchmarkResults. A store that writes rows overrides it to skip the objects."""
        return self.add(columns.results(), all_or_nothing=all_or_nothing)

    def compact(self) -> None:  # noqa: B027 - an optional hook: most stores keep nothing to tidy
        """Tidy what a burst of writes left behind for readers (PostgreSQL merges the parts its
        writers appended to its summaries), now or behind the caller on a thread of the store's
        own; answers are the same before and after, only their cost differs. An import calls it
        once its last batch is stored. Nothing by default."""

    async def aclose(self) -> None:  # noqa: B027 - an optional hook: most stores hold nothing to release
        """Release what the store holds (connections); the default holds nothing."""

    @abstractmethod
    def check(self) -> None:
        """Return when the store can answer; raise StoreUnavailable saying why it cannot."""

    @abstractmethod
    def runs(self, query: RunQuery) -> RunPage:
        """A page of runs, newest first, as the domain's summarize_runs forms them."""

    @abstractmethod
    def delete_run(self, run: str) -> int:
        """Remove every result labelled `run` (and what the store keeps about them, rollups
        included), in one transaction; how many were removed, 0 for an unknown run.
        Raises StoreIsReadOnly on a store that takes no writes."""
