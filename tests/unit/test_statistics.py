"""The statistics rules: numpy's percentiles to the bit, population spread, throughput, goodput, comparison."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.domain.benchmark_result import MAX_MILLISECONDS, BenchmarkResult
from src.domain.errors import InvalidStatisticsQuery
from src.domain.statistics import (
    ServiceLevelObjective,
    Verdict,
    compare,
    describe,
    mann_whitney_p_value,
    output_throughput,
    parse_percentiles,
    percentile,
)

values = st.lists(st.floats(min_value=0, max_value=MAX_MILLISECONDS, allow_nan=False), min_size=1, max_size=60)
quantiles = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(values, quantiles)
def test_percentiles_are_numpys_to_the_last_bit(sample: list[float], q: float) -> None:
    assert percentile(sorted(sample), q) == float(np.percentile(sample, q))


@given(values, quantiles, quantiles)
def test_percentiles_rise_with_q_and_stay_within_the_extremes(sample: list[float], q: float, r: float) -> None:
    ordered = sorted(sample)
    low, high = sorted((q, r))
    assert ordered[0] <= percentile(ordered, low) <= percentile(ordered, high) <= ordered[-1]
    assert ordered[0] <= percentile(ordered, 50) <= ordered[-1]


@given(values)
def test_mean_and_population_spread_agree_with_numpy(sample: list[float]) -> None:
    stats = describe(sample)
    assert stats is not None
    assert stats.count == len(sample)
    assert stats.mean == pytest.approx(float(np.mean(sample)), rel=1e-9, abs=1e-300)
    assert stats.stddev == pytest.approx(float(np.std(sample)), rel=1e-6, abs=1e-9 * max(sample))
    assert (stats.minimum, stats.maximum) == (min(sample), max(sample))
    assert [q for q, _ in stats.percentiles] == [50.0, 90.0, 95.0, 99.0]


def test_the_seed_time_to_first_token_by_hand() -> None:
    # 150, 200, 180, 300, 250 ms: sorted 150, 180, 200, 250, 300.
    stats = describe([150.0, 200.0, 180.0, 300.0, 250.0], (50, 90, 99))
    assert stats is not None
    assert stats.mean == 216.0
    assert stats.stddev == pytest.approx((((66**2) + (16**2) + (36**2) + (84**2) + (34**2)) / 5) ** 0.5)
    # p90: position 0.9 * 4 = 3.6, between 250 and 300; p99: 3.96.
    assert stats.percentiles == ((50, 200.0), (90, 280.0), (99, 298.0))


def test_no_values_have_no_statistics() -> None:
    assert describe([]) is None
    with pytest.raises(ValueError, match="at least one value"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 100.5)


def _result(tokens: int, ttft: float, tpot: float, total: float) -> BenchmarkResult:
    return BenchmarkResult("r", tokens, ttft, tpot, total, datetime(2024, 6, 1, tzinfo=UTC))


def test_output_throughput_is_tokens_per_second_over_the_whole_request() -> None:
    assert output_throughput(_result(10, 100.0, 40.0, 500.0)) == 20.0
    assert output_throughput(_result(10, 0.0, 0.0, 0.0)) is None


def test_an_objective_is_met_only_when_every_given_bound_is() -> None:
    result = _result(10, 100.0, 40.0, 500.0)
    assert ServiceLevelObjective().met_by(result)
    assert ServiceLevelObjective(time_to_first_token=100.0, total_generation_time=500.0).met_by(result)
    assert not ServiceLevelObjective(time_to_first_token=100.0, time_per_output_token=39.9).met_by(result)


def test_a_known_mann_whitney_p_value() -> None:
    # U = 0 for fully separated samples of five; scipy's asymptotic method gives 0.01219.
    assert mann_whitney_p_value([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(0.0121857803553448, rel=1e-12)


@given(values, values)
def test_the_p_value_is_a_probability_and_symmetric(first: list[float], second: list[float]) -> None:
    p = mann_whitney_p_value(first, second)
    assert 0 <= p <= 1
    assert p == pytest.approx(mann_whitney_p_value(second, first), rel=1e-12)


@given(values)
def test_comparing_a_sample_with_itself_finds_no_significant_change(sample: list[float]) -> None:
    for lower_is_better in (True, False):
        outcome = compare(sample, sample, lower_is_better=lower_is_better)
        assert outcome.verdict is Verdict.NO_SIGNIFICANT_CHANGE
        assert outcome.absolute_change == 0


@pytest.mark.parametrize(
    ("shift", "lower_is_better", "verdict"),
    [
        (1.5, True, Verdict.REGRESSION),  # times grew
        (0.5, True, Verdict.IMPROVEMENT),
        (1.5, False, Verdict.IMPROVEMENT),  # throughput grew
        (0.5, False, Verdict.REGRESSION),
    ],
)
def test_verdicts(shift: float, lower_is_better: bool, verdict: Verdict) -> None:
    baseline = [100.0 + (index % 17) for index in range(200)]
    candidate = [value * shift for value in baseline]
    outcome = compare(baseline, candidate, lower_is_better=lower_is_better)
    assert outcome.verdict is verdict
    assert outcome.relative_change == pytest.approx(shift - 1)


def test_a_significant_change_under_the_threshold_is_no_change() -> None:
    baseline = [100.0 + (index % 17) for index in range(200)]
    outcome = compare(baseline, [value * 1.01 for value in baseline], lower_is_better=True)
    assert outcome.p_value < 0.05
    assert outcome.verdict is Verdict.NO_SIGNIFICANT_CHANGE


def test_a_large_change_in_a_tiny_sample_is_not_significant() -> None:
    outcome = compare([100.0, 120.0], [130.0, 150.0], lower_is_better=True)
    assert outcome.p_value > 0.05
    assert outcome.verdict is Verdict.NO_SIGNIFICANT_CHANGE


def _brute_force_twice_u(first: list[float], second: list[float]) -> float:
    """U of the first sample by its definition: pairs it wins, ties counting half."""
    return sum(2 * (x > y) + (x == y) for x in first for y in second)


small_samples = st.lists(st.integers(min_value=0, max_value=6).map(float), min_size=1, max_size=12)


@given(small_samples, small_samples)
def test_the_merged_rank_sum_is_u_by_its_definition(first: list[float], second: list[float]) -> None:
    from src.domain.statistics import _twice_u_and_ties  # noqa: PLC0415 - the private helper under test

    twice_u, tie_term = _twice_u_and_ties(sorted(first), sorted(second))
    assert twice_u == _brute_force_twice_u(first, second)
    pooled = first + second
    assert tie_term == sum(pooled.count(v) ** 3 - pooled.count(v) for v in set(pooled))


def test_throughput_is_left_out_below_a_microsecond() -> None:
    assert output_throughput(_result(10, 0.0, 0.0, 0.000999)) is None
    assert output_throughput(_result(10, 0.0, 0.0, 0.001)) == pytest.approx(1e7)


@pytest.mark.parametrize("text", ["0", "100", "-1", "abc", "50,,90", "nan", ",".join(str(q) for q in range(1, 22))])
def test_percentiles_outside_the_open_interval_or_malformed_are_refused(text: str) -> None:
    with pytest.raises(InvalidStatisticsQuery) as refused:
        parse_percentiles(text)
    assert refused.value.parameter == "percentiles"


def test_percentiles_parse_in_the_order_given_without_repeats() -> None:
    assert parse_percentiles("99, 50,99.9,50") == (99.0, 50.0, 99.9)
