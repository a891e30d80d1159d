import asyncio

import pytest

from src.application.average_results import AverageOverAllResults, AverageOverWindow
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_aggregate import AverageSummary
from src.domain.time_window import TimeWindow
from tests.support import seed_records
from tests.unit.fakes import FakeResultStore


@pytest.fixture
def seed_store() -> FakeResultStore:
    return FakeResultStore([BenchmarkResult.from_mapping(record) for record in seed_records()])


def test_the_average_over_all_seed_results(seed_store: FakeResultStore) -> None:
    assert asyncio.run(AverageOverAllResults(seed_store)()) == AverageSummary(
        count=5,
        average_token_count=10.2,
        average_time_to_first_token=216.0,
        average_time_per_output_token=27.6,
        average_total_generation_time=485.2,
    )


def test_the_average_over_june_first(seed_store: FakeResultStore) -> None:
    summary = asyncio.run(AverageOverWindow(seed_store)(TimeWindow.parse("2024-06-01", "2024-06-01")))
    assert summary.count == 3
    assert summary.average_token_count == pytest.approx(29 / 3)
    assert summary.average_time_to_first_token == pytest.approx(650 / 3)
    assert summary.average_time_per_output_token == pytest.approx(25.0)
    assert summary.average_total_generation_time == pytest.approx(1310 / 3)


def test_a_window_with_no_results_has_no_averages(seed_store: FakeResultStore) -> None:
    summary = asyncio.run(AverageOverWindow(seed_store)(TimeWindow.parse("2023-01-01", "2023-12-31")))
    assert summary == AverageSummary(0, None, None, None, None)


def test_an_empty_store_has_no_averages() -> None:
    assert asyncio.run(AverageOverAllResults(FakeResultStore([]))()) == AverageSummary(0, None, None, None, None)
