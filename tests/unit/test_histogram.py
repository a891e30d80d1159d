"""Histograms: edges and exact counts, by hand and as properties; the use case over a fake store."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.application.result_statistics import DescribeDistribution
from src.domain.benchmark_result import MAX_MILLISECONDS, BenchmarkResult
from src.domain.errors import InvalidStatisticsQuery, WindowTooLarge
from src.domain.histogram import MAX_BINS, Histogram, Scale, bin_of, histogram, histogram_edges
from src.domain.result_selection import ResultFilter
from src.domain.statistics import STATISTIC_METRICS, metric_values
from tests.strategies import result_sets
from tests.support import seed_records
from tests.unit.fakes import FakeResultStore

values_lists = st.lists(
    st.one_of(
        st.floats(min_value=0, max_value=MAX_MILLISECONDS, allow_nan=False, allow_infinity=False),
        st.integers(min_value=0, max_value=10**6).map(float),
        st.sampled_from([0.0, 1e-300, 5e-324, 1.0, 1.0 + 2**-52]),
    ),
    max_size=60,
)
bin_numbers = st.one_of(st.integers(min_value=1, max_value=12), st.sampled_from([MAX_BINS]))


def _check(found: Histogram, values: list[float], bins: int) -> None:
    """Every value lies in exactly one bin, the one its edges say; the counts sum to the values."""
    assert found.count == len(values) == sum(found.counts)
    if not values:
        assert (found.edges, found.counts, found.minimum, found.maximum) == (None, (), None, None)
        return
    edges = found.edges
    assert edges is not None
    assert (found.minimum, found.maximum) == (min(values), max(values))
    assert len(edges) in (bins + 1, 2)
    assert len(found.counts) == len(edges) - 1
    assert list(edges) == sorted(edges)
    assert edges[-1] == max(values)
    recount = Counter(bin_of(value, edges) for value in values)
    assert tuple(recount.get(index, 0) for index in range(len(found.counts))) == found.counts
    for value in values:
        index = bin_of(value, edges)
        last = index == len(found.counts) - 1
        below_first = index == 0 and value < edges[0]
        assert below_first or edges[index] <= value
        assert value < edges[index + 1] or (last and value <= edges[index + 1])


@given(values_lists, bin_numbers, st.sampled_from(Scale))
def test_every_value_falls_in_exactly_its_bin(values: list[float], bins: int, scale: Scale) -> None:
    found = histogram(values, bins, scale)
    _check(found, values, bins)
    if values and scale is Scale.LINEAR:
        assert found.edges is not None
        assert found.edges[0] == min(values)
    if scale is Scale.LOG and any(value > 0 for value in values):
        assert found.edges is not None
        # Values <= 0 have no logarithm: they count in the first bin, whose edge is the smallest positive value.
        assert found.edges[0] == min(value for value in values if value > 0)


@given(values_lists, bin_numbers, st.sampled_from(Scale))
def test_the_order_of_values_does_not_matter(values: list[float], bins: int, scale: Scale) -> None:
    assert histogram(values, bins, scale) == histogram(list(reversed(values)), bins, scale)


def test_the_seed_ttft_in_three_linear_bins_by_hand() -> None:
    ttft = [float(record["time_to_first_token"]) for record in seed_records()]
    assert sorted(ttft) == [150.0, 180.0, 200.0, 250.0, 300.0]
    found = histogram(ttft, 3)
    assert found.edges == (150.0, 200.0, 250.0, 300.0)
    assert found.counts == (2, 1, 2)  # [150, 200): 150, 180; [200, 250): 200; [250, 300]: 250, 300
    assert list(found.bins()) == [(150.0, 200.0, 2), (200.0, 250.0, 1), (250.0, 300.0, 2)]


def test_log_edges_are_geometric_by_hand() -> None:
    found = histogram([1.0, 5.0, 10.0, 50.0, 100.0, 1000.0], 3, Scale.LOG)
    assert found.edges == pytest.approx((1.0, 10.0, 100.0, 1000.0), rel=1e-12)
    assert found.counts == (2, 2, 2)
    assert found.edges is not None
    assert (found.edges[0], found.edges[-1]) == (1.0, 1000.0)  # exactly, not by exp(log(...))


def test_log_scale_counts_zeros_in_the_first_bin() -> None:
    found = histogram([0.0, 0.0, 2.0, 8.0], 2, Scale.LOG)
    assert found.edges == pytest.approx((2.0, 4.0, 8.0))
    assert found.counts == (3, 1)
    assert (found.minimum, found.maximum) == (0.0, 8.0)


def test_log_scale_without_two_positive_values_is_one_bin() -> None:
    assert histogram([0.0, 0.0], 5, Scale.LOG).edges == (0.0, 0.0)
    only = histogram([0.0, 3.0, 3.0], 5, Scale.LOG)
    assert (only.edges, only.counts) == ((3.0, 3.0), (3,))


def test_one_value_repeated_is_one_bin_holding_everything() -> None:
    found = histogram([7.0, 7.0, 7.0], 50)
    assert (found.edges, found.counts) == ((7.0, 7.0), (3,))


def test_linear_edges_split_min_to_max_evenly() -> None:
    assert histogram_edges([0.0, 1.0], 4, Scale.LINEAR) == (0.0, 0.25, 0.5, 0.75, 1.0)
    found = histogram([0.0, 0.25, 0.5, 0.75, 1.0], 4)
    assert found.counts == (1, 1, 1, 2)  # each edge opens its bin; the last bin includes max


def test_nothing_to_bin_has_no_edges() -> None:
    assert histogram([], 10, Scale.LOG) == Histogram(Scale.LOG, 0, None, None, None, ())


@pytest.mark.parametrize("bins", [0, -1, MAX_BINS + 1])
def test_bins_outside_the_range_are_named(bins: int) -> None:
    with pytest.raises(InvalidStatisticsQuery) as refused:
        histogram([1.0], bins)
    assert refused.value.parameter == "bins"


def test_an_unknown_scale_is_named() -> None:
    assert Scale.parse("log") is Scale.LOG
    with pytest.raises(InvalidStatisticsQuery) as refused:
        Scale.parse("log10")
    assert refused.value.parameter == "scale"


@given(
    result_sets(described=True),
    st.sampled_from(STATISTIC_METRICS),
    st.integers(min_value=1, max_value=8),
    st.sampled_from(Scale),
)
def test_the_use_case_bins_successes_that_have_the_metric(
    results: list[BenchmarkResult], metric: str, bins: int, scale: Scale
) -> None:
    report = DescribeDistribution(FakeResultStore(results))(ResultFilter(), metric, bins=bins, scale=scale)
    values = [value for result in results if result.succeeded if (value := metric_values(result)[metric]) is not None]
    assert report.histogram == histogram(values, bins, scale)
    assert report.failed == sum(1 for result in results if not result.succeeded)
    assert report.metric == metric
    _check(report.histogram, values, bins)


def test_the_use_case_refuses_a_window_over_the_limit_and_an_unknown_metric() -> None:
    results = [BenchmarkResult.from_mapping(record) for record in seed_records()]
    with pytest.raises(WindowTooLarge):
        DescribeDistribution(FakeResultStore(results), max_results=4)(
            ResultFilter(), "token_count", bins=10, scale=Scale.LINEAR
        )
    with pytest.raises(InvalidStatisticsQuery) as refused:
        DescribeDistribution(FakeResultStore(results))(ResultFilter(), "latency", bins=10, scale=Scale.LINEAR)
    assert refused.value.parameter == "metric"


def test_huge_spreads_keep_edges_finite_and_ascending() -> None:
    found = histogram([5e-324, 1e-300, 1.0, MAX_MILLISECONDS], MAX_BINS, Scale.LOG)
    assert found.edges is not None
    assert all(math.isfinite(edge) for edge in found.edges)
    assert sum(found.counts) == 4
