"""A hand-written store for unit tests: the simplest thing that honours the port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from src.application.ports.result_store import (
    AddOutcome,
    PageKey,
    ResultPage,
    ResultQuery,
    ResultStore,
    RunPage,
    RunQuery,
    SummaryKey,
    SummaryQuery,
)
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import ResultConflict
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_selection import ResultFilter
from src.domain.runs import RUN_LABEL, summarize_runs
from src.domain.statistics import STATISTIC_METRICS, ResultSummary, metric_values, summarize
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch


class FakeResultStore(ResultStore):
    def __init__(self, results: list[BenchmarkResult] | None = None) -> None:
        self.results = {result.request_id: result for result in results or []}
        self.batches: list[list[str]] = []

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        return ResultAggregate.of(
            result for result in self.results.values() if window is None or result.timestamp in window
        )

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        """The domain's reference summary, over the results picked one by one."""
        keyed: dict[SummaryKey, list[BenchmarkResult]] = {}
        for result in self.results.values():
            if query.selection.matches(result):
                group = None if query.group_by is None else query.group_by.key_of(result)
                width = query.bucket_width
                bucket = None if width is None else microseconds_since_epoch(result.timestamp) // width
                keyed.setdefault((group, bucket), []).append(result)
        return {key: summarize(found, query.percentiles, query.objective) for key, found in keyed.items()}

    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        values = [
            metric_values(result) for result in self.results.values() if result.succeeded and selection.matches(result)
        ]
        return {
            metric: sorted(value for v in values if (value := v[metric]) is not None) for metric in STATISTIC_METRICS
        }

    def get(self, request_id: str) -> BenchmarkResult | None:
        return self.results.get(request_id)

    def page(self, query: ResultQuery) -> ResultPage:
        matching = sorted(
            (
                result
                for result in self.results.values()
                if query.selection.matches(result) and (query.after is None or PageKey.of(result) > query.after)
            ),
            key=PageKey.of,
        )
        more = len(matching) > query.limit
        return ResultPage(matching[: query.limit], PageKey.of(matching[query.limit - 1]) if more else None)

    def add(self, results: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        clashing = [
            r.request_id
            for r in results
            if r.request_id in self.results and not r.same_content(self.results[r.request_id])
        ]
        if clashing and all_or_nothing:
            raise ResultConflict(clashing)
        new = [result for result in results if result.request_id not in self.results]
        self.results.update((result.request_id, result) for result in new)
        self.batches.append([result.request_id for result in results])
        return AddOutcome(len(new), len(results) - len(new) - len(clashing), tuple(clashing))

    def check(self) -> None:
        """Always ready."""

    def runs(self, query: RunQuery) -> RunPage:
        selection = replace(query.selection, window=None)
        return RunPage.of(
            summarize_runs(result for result in self.results.values() if selection.matches(result)), query
        )

    def delete_run(self, run: str) -> int:
        doomed = [key for key, result in self.results.items() if result.labels.get(RUN_LABEL) == run]
        for key in doomed:
            del self.results[key]
        return len(doomed)
