"""Mergeable summaries: exact moments, DDSketch percentiles within the stated accuracy of numpy's."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from ddsketch.mapping import LogarithmicMapping
from hypothesis import given, settings
from hypothesis import strategies as st

from src.adapters import metric_summaries
from src.adapters.metric_summaries import (
    RELATIVE_ACCURACY,
    Summaries,
    bin_keys,
    bin_values,
    decode,
    encode,
    merge,
    metric_columns,
    percentiles,
    summarize_rows,
)
from src.domain.statistics import STATISTIC_METRICS

_METRICS = len(STATISTIC_METRICS)
# The accuracy holds for every value a clock can measure; doubles below 1e-300 lose the bits it needs.
_SMALLEST = 1e-300
values = st.one_of(
    st.just(0.0),
    st.floats(min_value=_SMALLEST, max_value=1e15, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10**6).map(float),
)
fractions = st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5)


def _exact(column: list[float], asked: list[float]) -> list[float]:
    return [float(value) for value in np.percentile(np.array(column), [100 * q for q in asked])]


def _within_accuracy(estimate: float, exact: float) -> bool:
    # A hair of float rounding over the mapping's bound.
    return abs(estimate - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9) + 1e-300


@settings(max_examples=300)
@given(column=st.lists(values, min_size=1, max_size=200), asked=fractions)
def test_every_sketched_percentile_is_within_the_relative_accuracy_of_numpys(
    column: list[float], asked: list[float]
) -> None:
    rows = np.full((len(column), _METRICS), np.nan)
    rows[:, 1] = column
    summaries = summarize_rows(rows, np.zeros(len(column), bool), np.zeros(len(column), np.int64), 1)
    found = percentiles(summaries, asked)[0, 1]
    for estimate, exact in zip(found, _exact(column, asked), strict=True):
        assert _within_accuracy(estimate, exact), (estimate, exact)


@settings(max_examples=200)
@given(
    parts=st.lists(st.lists(values, min_size=0, max_size=40), min_size=1, max_size=6),
    asked=fractions,
)
def test_merged_parts_answer_as_the_whole_exactly_in_moments_and_within_accuracy_in_percentiles(
    parts: list[list[float]], asked: list[float]
) -> None:
    column = [value for part in parts for value in part]
    rows = np.full((len(column), _METRICS), np.nan)
    rows[:, 3] = column
    groups = np.repeat(np.arange(len(parts)), [len(part) for part in parts]).astype(np.int64)
    pieces = decode(encode(summarize_rows(rows, np.zeros(len(column), bool), groups, len(parts))))
    whole = merge(pieces, np.zeros(len(parts), np.int64), 1)
    if not column:
        assert whole.n[0, 3] == 0
        return
    exact = np.array(column)
    assert whole.n[0, 3] == len(column)
    assert whole.minimum[0, 3] == exact.min()
    assert whole.maximum[0, 3] == exact.max()
    assert math.isclose(whole.mean[0, 3], exact.mean(), rel_tol=1e-9, abs_tol=1e-300)
    spread = math.sqrt(whole.m2[0, 3] / len(column))
    assert math.isclose(spread, exact.std(), rel_tol=1e-6, abs_tol=1e-9 * max(1.0, exact.max()))
    for estimate, wanted in zip(percentiles(whole, asked)[0, 3], _exact(column, asked), strict=True):
        assert _within_accuracy(estimate, wanted), (estimate, wanted)


@settings(max_examples=200)
@given(
    parts=st.lists(st.lists(values, min_size=0, max_size=20), min_size=1, max_size=8),
    data=st.data(),
    in_order=st.booleans(),
    most_spliced=st.sampled_from([0, 256]),
)
def test_merging_into_any_targets_gives_the_bins_of_summarising_their_rows_at_once(
    parts: list[list[float]], data: st.DataObject, in_order: bool, most_spliced: int
) -> None:
    # Parts in target order skip the reordering; targets taking several parts are added up one
    # slice each, or (past the limit, here 0) in one sort of every bin.
    targets = data.draw(st.lists(st.integers(0, 3), min_size=len(parts), max_size=len(parts)))
    if in_order:
        targets.sort()
    column = [value for part in parts for value in part]
    rows = np.full((len(column), _METRICS), np.nan)
    rows[:, 2] = column
    groups = np.repeat(np.arange(len(parts)), [len(part) for part in parts]).astype(np.int64)
    failed = np.zeros(len(column), bool)
    pieces = decode(encode(summarize_rows(rows, failed, groups, len(parts))))
    with mock.patch.object(metric_summaries, "_MOST_SPLICED", most_spliced):
        merged = merge(pieces, np.array(targets, np.int64), 4)
    direct = summarize_rows(rows, failed, np.array(targets, np.int64)[groups], 4)
    for name in ("bin_group", "bin_code", "bin_count", "n", "count"):
        assert np.array_equal(getattr(merged, name), getattr(direct, name)), name


def test_keys_and_bin_values_are_the_ddsketch_mappings() -> None:
    mapping = LogarithmicMapping(RELATIVE_ACCURACY)
    rng = np.random.default_rng(7)
    sample = np.concatenate([rng.uniform(1e-3, 1e6, 20_000), 10.0 ** rng.uniform(-250, 250, 20_000)])
    keys = bin_keys(sample)
    assert keys.tolist() == [mapping.key(value) for value in sample.tolist()]
    assert np.allclose(bin_values(keys), [mapping.value(key) for key in keys.tolist()], rtol=1e-10, atol=0)
    assert bin_values(bin_keys(np.array([0.0]))).tolist() == [0.0]


def test_a_hand_computed_example() -> None:
    # TTFT 100, 200, 300, 400 ms and one failure: mean 250, population spread sqrt(12500),
    # p50 at rank 1.5 between 200 and 300, so 250 within 1%.
    rows = np.full((5, _METRICS), np.nan)
    rows[:, 1] = [100.0, 200.0, 300.0, 400.0, 9_999.0]
    failed = np.array([False, False, False, False, True])
    summaries = summarize_rows(rows, failed, np.zeros(5, np.int64), 1)
    assert (summaries.count[0], summaries.failed[0], summaries.n[0, 1]) == (4, 1, 4)
    assert summaries.mean[0, 1] == 250.0
    assert summaries.m2[0, 1] == 50_000.0
    assert (summaries.minimum[0, 1], summaries.maximum[0, 1]) == (100.0, 400.0)
    (p50,) = percentiles(summaries, [0.5])[0, 1]
    assert abs(p50 - 250.0) <= 2.5
    assert np.isnan(percentiles(summaries, [0.5])[0, 0]).all()  # no token count given


def test_throughput_is_derived_as_the_domain_derives_it() -> None:
    stored = np.array([[100.0, 10.0, 1.0, 2000.0, 5.0], [100.0, 10.0, 1.0, 0.0, 5.0], [np.nan, 1.0, 1.0, 5.0, 1.0]])
    throughput = metric_columns(stored)[:, -1]
    assert throughput[0] == 50.0
    assert np.isnan(throughput[1:]).all()


@pytest.mark.parametrize("size", [0, 3])
def test_empty_summaries_encode_and_decode(size: int) -> None:
    empty = Summaries.empty(size)
    back = decode(encode(empty))
    assert back.size == size
    assert not back.n.any()
    assert np.isinf(back.minimum).all()


def _bin_totals(summaries: Summaries) -> dict[tuple[int, int], int]:
    totals: dict[tuple[int, int], int] = {}
    for group, code, count in zip(
        summaries.bin_group.tolist(), summaries.bin_code.tolist(), summaries.bin_count.tolist(), strict=True
    ):
        totals[group, code] = totals.get((group, code), 0) + count
    return totals


@settings(max_examples=100)
@given(
    parts=st.lists(st.lists(values, min_size=0, max_size=20), min_size=1, max_size=5),
    scale=st.sampled_from([1, 2**20, 2**32 - 1, 2**32, 3 * 2**33 + 5]),
    asked=fractions,
)
def test_bin_counts_past_four_bytes_are_stored_as_several_bins_and_answer_the_same(
    parts: list[list[float]], scale: int, asked: list[float]
) -> None:
    # Counts are stored in 4 bytes: a larger one (billions of values in one bucket and bin)
    # must come back as the same total, with the same percentiles.
    column = [value for part in parts for value in part]
    rows = np.full((len(column), _METRICS), np.nan)
    rows[:, 0] = column
    groups = np.repeat(np.arange(len(parts)), [len(part) for part in parts]).astype(np.int64)
    small = summarize_rows(rows, np.zeros(len(column), bool), groups, len(parts))
    large = Summaries(
        small.count * scale,
        small.failed,
        small.n * scale,
        small.mean,
        small.m2 * scale,
        small.minimum,
        small.maximum,
        small.bin_group,
        small.bin_code,
        small.bin_count * scale,
    )
    back = decode(encode(large))
    assert _bin_totals(back) == _bin_totals(large)
    assert np.array_equal(back.n, large.n)
    assert np.array_equal(percentiles(back, asked), percentiles(large, asked), equal_nan=True)
    # Merged anywhere, the pieces of a bin add up again.
    merged = merge(back, np.zeros(len(parts), np.int64), 1)
    assert _bin_totals(merged) == _bin_totals(merge(large, np.zeros(len(parts), np.int64), 1))


def test_summaries_of_revision_0004_read_with_eight_byte_counts() -> None:
    rows = np.full((3, _METRICS), np.nan)
    rows[:, 1] = [5.0, 7.0, 7.0]
    summary = summarize_rows(rows, np.zeros(3, bool), np.zeros(3, np.int64), 1)
    bins = len(summary.bin_code)
    header = encode(summary)[0][: -8 * bins]  # now 8 bytes a bin: an int32 code, a uint32 count
    # Revision 0004 wrote each bin as an int32 code, then an int64 count.
    old = header + summary.bin_code.astype("<i4").tobytes() + summary.bin_count.astype("<i8").tobytes()
    back = decode([old], count_type="<i8")
    assert back.bin_count.tolist() == [1, 2]
    assert back.n[0, 1] == 3
