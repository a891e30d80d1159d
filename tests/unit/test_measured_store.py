"""The store port's timing proxy: the wrapped store's answers and errors, each call observed by its name."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from src.adapters.measured_store import MeasuredResultStore
from src.application.ports.result_store import ResultQuery, RunQuery, SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import ResultConflict
from src.domain.result_selection import ResultFilter
from tests.unit.fakes import FakeResultStore

MOMENT = datetime(2024, 6, 1, tzinfo=UTC)


def result(request_id: str, token_count: int = 10) -> BenchmarkResult:
    return BenchmarkResult(
        request_id=request_id,
        prompt_text="prompt",
        generated_text="answer",
        token_count=token_count,
        time_to_first_token=100.0,
        time_per_output_token=20.0,
        total_generation_time=300.0,
        timestamp=MOMENT,
    )


class Observed:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def __call__(self, operation: str, seconds: float) -> None:
        self.calls.append((operation, seconds))

    @property
    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]


def test_every_port_method_answers_as_the_wrapped_store_and_is_observed_by_its_name() -> None:
    inner, observed = FakeResultStore([result("a")]), Observed()
    store = MeasuredResultStore(inner, observed)
    assert store.add([result("b", 20)]).stored == 1
    assert store.aggregate().count == inner.aggregate().count == 2
    assert asyncio.run(store.aggregate_async()).count == 2
    assert store.summarize(SummaryQuery()) == inner.summarize(SummaryQuery())
    assert store.sorted_values(ResultFilter()) == inner.sorted_values(ResultFilter())
    assert store.metric_values(ResultFilter(), "token_count")[0] == [10.0, 20.0]
    assert store.get("b") == result("b", 20)
    assert [found.request_id for found in store.page(ResultQuery()).results] == ["a", "b"]
    assert store.runs(RunQuery()) == inner.runs(RunQuery())
    store.check()
    assert store.delete_run("none") == 0
    store.compact()
    assert observed.operations == [
        "add",
        "aggregate",
        "aggregate_async",
        "summarize",
        "sorted_values",
        "metric_values",
        "get",
        "page",
        "runs",
        "check",
        "delete_run",
        "compact",
    ]
    assert all(seconds >= 0 for _, seconds in observed.calls)


def test_a_call_that_raises_is_observed_and_raises_the_same_error() -> None:
    observed = Observed()
    store = MeasuredResultStore(FakeResultStore([result("a")]), observed)
    with pytest.raises(ResultConflict):
        store.add([result("a", token_count=11)])
    assert observed.operations == ["add"]
