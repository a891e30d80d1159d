import math
from datetime import datetime, timedelta
from fractions import Fraction
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.domain.benchmark_result import METRICS, BenchmarkResult
from src.domain.result_aggregate import AverageSummary, ResultAggregate
from src.domain.time_window import TimeWindow
from tests.strategies import moments, result_sets, windows
from tests.support import seed_records
from tests.unit.fakes import FakeResultStore


def average_of(summary: AverageSummary, metric: str) -> float | None:
    value: float | None = getattr(summary, f"average_{metric}")
    return value


def test_the_seed_averages_computed_by_hand() -> None:
    summary = ResultAggregate.of(BenchmarkResult.from_mapping(record) for record in seed_records()).summary()
    assert summary == AverageSummary(5, 51 / 5, 1080 / 5, 138 / 5, 2426 / 5)


def test_an_empty_aggregate_gives_count_zero_and_no_averages() -> None:
    assert ResultAggregate().summary() == AverageSummary(0, None, None, None, None)


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot count"):
        ResultAggregate(count=-1)


def defined(results: list[BenchmarkResult], metric: str) -> list[float]:
    """The metric's values over the successful results that have it: what an average reads."""
    return [value for result in results if result.succeeded and (value := getattr(result, metric)) is not None]


@given(result_sets(max_size=60))
def test_every_average_is_the_exact_mean_within_1e_9(results: list[BenchmarkResult]) -> None:
    summary = ResultAggregate.of(results).summary()
    assert summary.count == sum(result.succeeded for result in results)
    assert summary.failed == len(results) - summary.count
    for metric in METRICS:
        average = average_of(summary, metric)
        values = defined(results, metric)
        if not values:
            assert average is None
            continue
        exact = sum((Fraction(value) for value in values), Fraction(0)) / len(values)
        assert average is not None
        # Among subnormal floats the nearest to a tiny mean may be a whole step of 2^-1074 away.
        assert abs(Fraction(average) - exact) <= Fraction(1, 10**9) * exact + Fraction(math.ulp(0.0))


@given(result_sets(max_size=60))
def test_each_average_lies_between_the_smallest_and_largest_value(results: list[BenchmarkResult]) -> None:
    summary = ResultAggregate.of(results).summary()
    for metric in METRICS:
        values = defined(results, metric)
        average = average_of(summary, metric)
        if not values:
            assert average is None
            continue
        assert average is not None
        # Dividing a correctly rounded sum can land one rounding step outside [min, max].
        assert math.nextafter(min(values), -math.inf) <= average <= math.nextafter(max(values), math.inf)


@given(result_sets(), moments)
def test_aggregates_of_two_disjoint_windows_merge_into_the_aggregate_of_their_union(
    results: list[BenchmarkResult], cut: datetime
) -> None:
    before = [result for result in results if result.timestamp < cut]
    after = [result for result in results if result.timestamp >= cut]
    merged = ResultAggregate.of(before).merge(ResultAggregate.of(after))
    union = ResultAggregate.of(results)
    assert (merged.count, merged.failed, merged.counts) == (union.count, union.failed, union.counts)
    for metric in METRICS:
        assert getattr(merged, metric) == pytest.approx(getattr(union, metric), rel=1e-12, abs=0)


@given(result_sets(), st.randoms())
def test_the_order_of_results_does_not_matter(results: list[BenchmarkResult], random: Random) -> None:
    shuffled = list(results)
    random.shuffle(shuffled)
    assert ResultAggregate.of(shuffled) == ResultAggregate.of(results)


@given(result_sets(), windows(), st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_widening_a_window_never_lowers_the_count(
    results: list[BenchmarkResult], window: TimeWindow, earlier_us: int, later_us: int
) -> None:
    store = FakeResultStore(results)
    wider = TimeWindow(window.start - timedelta(microseconds=earlier_us), window.end + timedelta(microseconds=later_us))
    assert store.aggregate(wider).count >= store.aggregate(window).count
