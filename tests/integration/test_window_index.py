"""The window index of the JSON store against brute force, for every window of small data sets."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.adapters.json_store.result_file import ResultColumns
from src.adapters.window_index import WindowIndex
from src.domain.benchmark_result import METRICS
from src.domain.result_aggregate import ResultAggregate


def index_of(timestamps: list[int], metrics: list[list[float]], failed: list[bool] | None = None) -> WindowIndex:
    """An index of results with these averaged metrics (METRICS order; NaN is undefined) and no input tokens."""
    return WindowIndex(
        ResultColumns(
            np.array(timestamps, dtype=np.int64),
            (
                *(np.array(column, dtype=np.float64) for column in metrics),
                np.full(len(timestamps), np.nan),
            ),
            failed=None if failed is None else np.array(failed, dtype=np.bool_),
        )
    )


@pytest.mark.parametrize("size", [*range(1, 18), 31, 32, 33, 64, 100])
def test_every_window_of_every_small_size_matches_brute_force(size: int) -> None:
    generator = np.random.default_rng(size)
    timestamps = generator.integers(0, 50, size).tolist()
    metrics = [generator.uniform(0, 10, size).tolist() for _ in range(4)]
    index = index_of(timestamps, metrics)
    for start in range(-1, 52):
        for end in range(start, 52):
            inside = [position for position, moment in enumerate(timestamps) if start <= moment <= end]
            aggregate = index.aggregate_between(start, end)
            assert aggregate.count == len(inside)
            sums = (
                aggregate.token_count,
                aggregate.time_to_first_token,
                aggregate.time_per_output_token,
                aggregate.total_generation_time,
            )
            for column, total in zip(metrics, sums, strict=True):
                assert total == pytest.approx(math.fsum(column[p] for p in inside), rel=1e-13, abs=0)


@given(
    st.lists(
        st.tuples(st.integers(min_value=-(10**15), max_value=10**15), st.floats(min_value=0, max_value=1e12)),
        max_size=80,
    ),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=0, max_value=10**15),
)
def test_random_windows_match_brute_force(rows: list[tuple[int, float]], start: int, length: int) -> None:
    timestamps = [moment for moment, _ in rows]
    values = [value for _, value in rows]
    index = index_of(timestamps, [values] * 4)
    inside = [value for moment, value in rows if start <= moment <= start + length]
    aggregate = index.aggregate_between(start, start + length)
    assert aggregate.count == len(inside)
    assert aggregate.time_to_first_token == pytest.approx(math.fsum(inside), rel=1e-13, abs=0)
    assert index.aggregate_all().count == len(rows)


def test_an_empty_index_answers_empty_aggregates() -> None:
    index = index_of([], [[], [], [], []])
    assert index.aggregate_all().count == 0
    assert index.aggregate_between(0, 10).count == 0


def expected_aggregate(
    timestamps: list[int], metrics: list[list[float]], failed: list[bool], start: int, end: int
) -> ResultAggregate:
    inside = [p for p, moment in enumerate(timestamps) if start <= moment <= end]
    successes = [p for p in inside if not failed[p]]
    defined = [[column[p] for p in successes if not math.isnan(column[p])] for column in metrics]
    return ResultAggregate.from_sums(
        len(successes),
        (math.fsum(values) for values in defined),
        (len(values) for values in defined),
        len(inside) - len(successes),
    )


def assert_same_aggregate(found: ResultAggregate, expected: ResultAggregate) -> None:
    assert (found.count, found.counts, found.failed) == (expected.count, expected.counts, expected.failed)
    for metric in METRICS:
        assert getattr(found, metric) == pytest.approx(getattr(expected, metric), rel=1e-13, abs=0)


@pytest.mark.parametrize("size", [*range(1, 18), 31, 33, 100])
def test_failures_and_undefined_metrics_are_counted_apart_in_every_window(size: int) -> None:
    generator = np.random.default_rng(1000 + size)
    timestamps = generator.integers(0, 30, size).tolist()
    metrics = [generator.uniform(0, 10, size) for _ in range(4)]
    # Any metric of a failure may be there or not; a success may lack TTFT and TPOT only.
    failed = (generator.uniform(size=size) < 0.3).tolist()
    for position in (1, 2):
        metrics[position][generator.uniform(size=size) < 0.3] = np.nan
    for position in (0, 3):
        metrics[position][np.array(failed) & (generator.uniform(size=size) < 0.5)] = np.nan
    columns = [column.tolist() for column in metrics]
    index = index_of(timestamps, columns, failed)
    assert_same_aggregate(index.aggregate_all(), expected_aggregate(timestamps, columns, failed, -1, 31))
    for start in range(-1, 32):
        for end in range(start, 32):
            found = index.aggregate_between(start, end)
            assert_same_aggregate(found, expected_aggregate(timestamps, columns, failed, start, end))


def test_failed_results_metrics_never_reach_a_sum_and_only_failures_still_count() -> None:
    index = index_of(
        [0, 1, 2], [[5.0, 7.0, 1.0], [1.0, 2.0, 3.0], [4.0, np.nan, 6.0], [10.0, 20.0, 30.0]], [False, True, True]
    )
    everything = index.aggregate_all()
    assert (everything.count, everything.failed, everything.token_count, everything.total_generation_time) == (
        1,
        2,
        5.0,
        10.0,
    )
    only_failures = index.aggregate_between(1, 2)
    assert (only_failures.count, only_failures.failed, only_failures.counts) == (0, 2, (0, 0, 0, 0))
    assert only_failures.summary().average_token_count is None
    columns, failed = index.columns_between(0, 3)
    assert failed is not None
    assert failed.tolist() == [False, True, True]
    assert np.isnan(columns[:, 4]).all()


def test_an_index_without_failures_or_undefined_values_keeps_no_counts() -> None:
    aggregate = index_of([0, 1], [[1.0, 2.0]] * 4).aggregate_all()
    assert (aggregate.count, aggregate.metric_counts, aggregate.failed) == (2, None, 0)
