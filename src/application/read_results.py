"""Use cases that read single results: one by request_id, and pages of them in time order."""

from __future__ import annotations

from src.application.ports.result_store import ResultPage, ResultQuery, ResultStore
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import ResultNotFound


class GetResult:
    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, request_id: str) -> BenchmarkResult:
        result = self._results.get(request_id)
        if result is None:
            raise ResultNotFound(request_id)
        return result


class ListResults:
    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, query: ResultQuery) -> ResultPage:
        return self._results.page(query)


class CheckReadiness:
    """Whether the store answers: the readiness probe's question."""

    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self) -> None:
        self._results.check()
