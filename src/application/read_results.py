"""Use cases that read single results: one by request_id, and pages of them in time order; and readiness."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.ports.replica_lag import ReplicaLag
from src.application.ports.result_store import ResultPage, ResultQuery, ResultStore
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import ResultNotFound, StoreUnavailable


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


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """The read replica as the readiness probe found it."""

    unavailable: str | None = None
    """Why it cannot answer (reads go to the primary meanwhile); None when it answers."""
    lag_seconds: float | None = None
    """How far its data trails the primary's (ReplicaLag.seconds); None when it is unavailable or replays nothing."""


@dataclass(frozen=True, slots=True)
class Readiness:
    replica: ReplicaState | None = None
    """None when reads have no replica of their own."""


class CheckReadiness:
    """Whether the store answers: the readiness probe's question. With a read replica, also how
    the replica is doing, which never makes the service unready: reads fall back to the primary."""

    def __init__(self, results: ResultStore, replica_lag: ReplicaLag | None = None) -> None:
        self._results = results
        self._replica_lag = replica_lag

    def __call__(self) -> Readiness:
        """Raises StoreUnavailable when the store (the primary, with a replica) cannot answer."""
        self._results.check()
        if self._replica_lag is None:
            return Readiness()
        try:
            lag = self._replica_lag.seconds()
        except StoreUnavailable as error:
            return Readiness(ReplicaState(unavailable=error.reason))
        return Readiness(ReplicaState(lag_seconds=lag))
