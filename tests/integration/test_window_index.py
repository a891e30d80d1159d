"""The window index of the JSON store against brute force, for every window of small data sets."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.adapters.json_store.result_file import ResultColumns
from src.adapters.json_store.window_index import WindowIndex


def index_of(timestamps: list[int], metrics: list[list[float]]) -> WindowIndex:
    return WindowIndex(
        ResultColumns(
            np.array(timestamps, dtype=np.int64),
            tuple(np.array(column, dtype=np.float64) for column in metrics),
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
