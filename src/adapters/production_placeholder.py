"""The production store when no database is configured: every question is answered with a 503."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

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
from src.domain.errors import ProductionStoreNotConfigured
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_selection import ResultFilter
from src.domain.statistics import ResultSummary
from src.domain.time_window import TimeWindow


class ProductionPlaceholderStore(ResultStore):
    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        _refuse()

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        _refuse()

    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        _refuse()

    def get(self, request_id: str) -> BenchmarkResult | None:
        _refuse()

    def page(self, query: ResultQuery) -> ResultPage:
        _refuse()

    def add(self, results: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        _refuse()

    def check(self) -> None:
        _refuse()

    def runs(self, query: RunQuery) -> RunPage:
        _refuse()

    def delete_run(self, run: str) -> int:
        _refuse()


def _refuse() -> NoReturn:
    raise ProductionStoreNotConfigured
