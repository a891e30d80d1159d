"""The replicated store: reads from the replica, writes to the primary, the primary while the replica is down."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from src.adapters.replicated_store import ReplicatedResultStore
from src.application.ports.replica_lag import ReplicaLag
from src.application.ports.result_store import ResultQuery, RunQuery, SummaryQuery
from src.application.read_results import CheckReadiness, Readiness, ReplicaState
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import StoreUnavailable
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_selection import ResultFilter
from src.domain.time_window import TimeWindow
from tests.support import record
from tests.unit.fakes import FakeResultStore

RETRY = 5.0


def result(request_id: str) -> BenchmarkResult:
    return BenchmarkResult.from_mapping(record(request_id, "2024-06-01T12:00:00Z") | {"labels": {"run": "r"}})


class SwitchableStore(FakeResultStore):
    """A fake store that can be taken down: then every question raises StoreUnavailable."""

    def __init__(self, results: list[BenchmarkResult]) -> None:
        super().__init__(results)
        self.down = False
        self.asked = 0
        self.compacted = 0

    def compact(self) -> None:
        self.compacted += 1

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        self.asked += 1
        if self.down:
            raise StoreUnavailable("connection refused")
        return super().aggregate(window)

    def get(self, request_id: str) -> BenchmarkResult | None:
        self.asked += 1
        if self.down:
            raise StoreUnavailable("connection refused")
        return super().get(request_id)

    def check(self) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def primary() -> SwitchableStore:
    return SwitchableStore([result("a"), result("b")])


@pytest.fixture
def replica() -> SwitchableStore:
    # Behind the primary: it has not replayed b yet, so every answer says where it came from.
    return SwitchableStore([result("a")])


@pytest.fixture
def store(primary: SwitchableStore, replica: SwitchableStore, clock: Clock) -> ReplicatedResultStore:
    return ReplicatedResultStore(primary, replica, retry_seconds=RETRY, clock=clock)


def test_every_read_is_answered_by_the_replica(store: ReplicatedResultStore) -> None:
    everything = ResultFilter()
    assert store.aggregate().count == 1
    assert asyncio.run(store.aggregate_async()).count == 1
    assert [key for key in store.summarize(SummaryQuery())] == [(None, None)]
    assert store.summarize(SummaryQuery())[None, None].count == 1
    assert len(store.sorted_values(everything)["token_count"]) == 1
    assert len(store.metric_values(everything, "token_count")[0]) == 1
    assert store.get("b") is None
    assert [found.request_id for found in store.page(ResultQuery()).results] == ["a"]
    assert store.runs(RunQuery()).runs[0].count == 1


def test_writes_and_the_readiness_check_go_to_the_primary(
    store: ReplicatedResultStore, primary: SwitchableStore, replica: SwitchableStore
) -> None:
    assert store.add([result("c")]).stored == 1
    assert "c" in primary.results
    assert "c" not in replica.results
    assert store.delete_run("r") == 3
    assert replica.results.keys() == {"a"}
    store.compact()
    assert (primary.compacted, replica.compacted) == (1, 0)
    replica.down = True
    store.check()
    primary.down = True
    with pytest.raises(StoreUnavailable):
        store.check()


def test_while_the_replica_is_down_reads_go_to_the_primary_with_one_warning(
    store: ReplicatedResultStore,
    primary: SwitchableStore,
    replica: SwitchableStore,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    replica.down = True
    with caplog.at_level(logging.INFO, logger="src.adapters.replicated_store"):
        for _ in range(10):
            assert store.aggregate().count == 2
            assert asyncio.run(store.aggregate_async()).count == 2
            assert store.get("b") is not None
            clock.now += RETRY / 2
    warnings = [entry for entry in caplog.records if entry.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "connection refused" in warnings[0].getMessage()
    # Reads over 22.5 s: one per retry interval (at 0, 5, 10, 15 and 20 s) tried the replica; the
    # others went straight to the primary.
    assert replica.asked == 5


def test_the_replica_is_read_again_once_it_answers(
    store: ReplicatedResultStore, replica: SwitchableStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    replica.down = True
    assert store.aggregate().count == 2
    replica.down = False
    assert store.aggregate().count == 2, "within the retry interval the primary still answers"
    clock.now += RETRY
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="src.adapters.replicated_store"):
        assert store.aggregate().count == 1
        assert store.aggregate().count == 1
    assert [entry.getMessage() for entry in caplog.records] == ["the read replica answers again; reads go to it"]
    # A second outage is a new one: warned about again.
    replica.down = True
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="src.adapters.replicated_store"):
        assert store.aggregate().count == 2
    assert sum(entry.levelno == logging.WARNING for entry in caplog.records) == 1


def test_with_both_down_the_primary_s_unavailability_is_raised(
    store: ReplicatedResultStore, primary: SwitchableStore, replica: SwitchableStore
) -> None:
    replica.down = primary.down = True
    with pytest.raises(StoreUnavailable, match="connection refused"):
        store.aggregate()
    with pytest.raises(StoreUnavailable):
        store.get("a")


class FixedLag(ReplicaLag):
    def __init__(self, seconds: float | None, down: bool = False) -> None:
        self._seconds, self._down = seconds, down

    def seconds(self) -> float | None:
        if self._down:
            raise StoreUnavailable("replica refused")
        return self._seconds


def test_readiness_reports_the_replica_without_depending_on_it(primary: SwitchableStore) -> None:
    assert CheckReadiness(primary)() == Readiness()
    assert CheckReadiness(primary, FixedLag(1.5))() == Readiness(ReplicaState(lag_seconds=1.5))
    assert CheckReadiness(primary, FixedLag(None, down=True))() == Readiness(
        ReplicaState(unavailable="replica refused")
    )
    primary.down = True
    with pytest.raises(StoreUnavailable):
        CheckReadiness(primary, FixedLag(0.0))()
