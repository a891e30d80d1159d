"""Statistics use cases over a fake store: partitions, series, limits and comparisons."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.application.ports.result_store import SummaryQuery
from src.application.result_statistics import (
    RANK_TEST_SAMPLE,
    CompareResults,
    DescribeDistribution,
    DescribeResults,
    FollowResultsOverTime,
)
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import EmptySample, InvalidStatisticsQuery, WindowTooLarge
from src.domain.histogram import Scale
from src.domain.result_selection import Grouping, ResultFilter, parse_label, parse_labels
from src.domain.statistics import ServiceLevelObjective, Verdict
from src.domain.time_buckets import AUTO, AUTO_TARGET_BUCKETS, BUCKET_WIDTHS, MAX_BUCKETS, Bucketing
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch
from tests.strategies import result_sets, windows
from tests.unit.fakes import FakeResultStore

groupings = st.sampled_from([Grouping(), Grouping("run"), Grouping("gpu")])


@given(result_sets(described=True), groupings, st.one_of(st.none(), windows()))
def test_grouping_partitions_the_count(results: list[BenchmarkResult], grouping: Grouping, window: TimeWindow) -> None:
    describe = DescribeResults(FakeResultStore(results))
    everything = describe(SummaryQuery(ResultFilter(window)))
    groups = describe(SummaryQuery(ResultFilter(window), group_by=grouping))
    assert sum(entry.summary.count for entry in groups) == everything[0].summary.count
    assert sum(entry.summary.failed for entry in groups) == everything[0].summary.failed
    assert len({entry.group for entry in groups}) == len(groups)
    # Largest group first, failed results counted in its size.
    sizes = [entry.summary.total for entry in groups]
    assert sizes == sorted(sizes, reverse=True)


@given(result_sets(described=True), windows(), st.sampled_from([*BUCKET_WIDTHS, AUTO]), st.booleans())
def test_bucket_counts_sum_to_the_windows_count(
    results: list[BenchmarkResult], window: TimeWindow, bucket: str, grouped: bool
) -> None:
    store = FakeResultStore(results)
    query = SummaryQuery(ResultFilter(window), group_by=Grouping() if grouped else None)
    bucketing = Bucketing.choose(bucket, window)
    points = FollowResultsOverTime(store)(query, bucketing)
    assert sum(point.summary.count for point in points) == store.aggregate(window).count
    assert sum(point.summary.failed for point in points) == store.aggregate(window).failed
    # Every bucket of the window appears, once per series, in time order.
    series = {point.group for point in points}
    assert len(points) == bucketing.count * len(series)
    for group in series:
        assert [p.bucket for p in points if p.group == group] == list(range(bucketing.first, bucketing.last + 1))


@given(windows())
def test_auto_buckets_stay_near_the_target_and_align_to_utc(window: TimeWindow) -> None:
    bucketing = Bucketing.choose(AUTO, window)
    assert bucketing.count <= AUTO_TARGET_BUCKETS + 1  # an unaligned window touches one bucket more
    start = bucketing.start_of(bucketing.first)
    assert start <= window.start < bucketing.start_of(bucketing.first + 1)
    assert (start.second, start.microsecond) == (0, 0)


def test_auto_over_years_takes_whole_days_which_can_be_asked_for_again() -> None:
    window = TimeWindow.parse("2020-01-01", "2024-12-31")
    bucketing = Bucketing.choose(AUTO, window)
    assert bucketing.name == "10d"
    assert bucketing.count <= AUTO_TARGET_BUCKETS + 1
    assert microseconds_since_epoch(bucketing.start_of(bucketing.first)) % BUCKET_WIDTHS["1d"] == 0
    assert Bucketing.choose("10d", window) == bucketing


@pytest.mark.parametrize(
    ("bucket", "window"), [("2m", ("2024-06-01", "2024-06-02")), ("1m", ("2024-01-01", "2024-12-31"))]
)
def test_unknown_buckets_and_too_many_buckets_are_refused(bucket: str, window: tuple[str, str]) -> None:
    with pytest.raises(InvalidStatisticsQuery) as refused:
        Bucketing.choose(bucket, TimeWindow.parse(*window))
    assert refused.value.parameter == "bucket"
    assert MAX_BUCKETS < 365 * 24 * 60


def test_a_series_needs_a_window() -> None:
    with pytest.raises(InvalidStatisticsQuery) as refused:
        FollowResultsOverTime(FakeResultStore())(SummaryQuery(), Bucketing("1h", 3_600_000_000, 0, 1))
    assert refused.value.parameter == "start"


@pytest.mark.parametrize("text", ["run", ":a", "", "k" * 129 + ":v"])
def test_malformed_labels_are_refused(text: str) -> None:
    with pytest.raises(InvalidStatisticsQuery) as refused:
        parse_label(text)
    assert refused.value.parameter == "label"


def test_a_label_value_may_hold_colons_but_a_key_is_given_once() -> None:
    assert parse_label("url:http://x:8000") == ("url", "http://x:8000")
    with pytest.raises(InvalidStatisticsQuery):
        parse_labels(["run:a", "run:b"])


@pytest.mark.parametrize("text", ["models", "label:", "label", "gpu:a", "label:a:b"])
def test_unknown_groupings_are_refused(text: str) -> None:
    with pytest.raises(InvalidStatisticsQuery) as refused:
        Grouping.parse(text)
    assert refused.value.parameter == "group_by"


def _results(count: int, tokens: int, ttft: float, run: str) -> list[BenchmarkResult]:
    start = TimeWindow.parse("2024-06-01", "2024-06-01").start
    return [
        BenchmarkResult(
            f"{run}{i}", tokens, ttft + i % 7, 10.0, 500.0 + i, start + timedelta(seconds=i), labels={"run": run}
        )
        for i in range(count)
    ]


def test_statistics_and_time_series_take_any_window_while_a_histogram_is_limited() -> None:
    store = FakeResultStore(_results(11, 10, 100.0, "a"))
    assert DescribeResults(store)(SummaryQuery())[0].summary.count == 11
    day = TimeWindow.parse("2024-06-01", "2024-06-01")
    points = FollowResultsOverTime(store)(SummaryQuery(ResultFilter(day)), Bucketing.choose("1d", day))
    assert [point.summary.count for point in points] == [11]
    with pytest.raises(WindowTooLarge) as refused:
        DescribeDistribution(store, max_results=10)(ResultFilter(), "token_count", bins=5, scale=Scale.LINEAR)
    assert (refused.value.count, refused.value.limit) == (11, 10)


def test_comparison_finds_the_slower_run_and_nothing_between_a_run_and_itself() -> None:
    store = FakeResultStore(_results(40, 10, 100.0, "a") + _results(40, 10, 150.0, "b"))
    compare = partial(CompareResults(store), percentiles=(50.0, 99.0), relative_threshold=0.05, significance=0.05)
    run_a, run_b = ResultFilter(labels=(("run", "a"),)), ResultFilter(labels=(("run", "b"),))
    report = compare(run_a, run_b)
    verdicts = {entry.metric: entry.comparison.verdict for entry in report.metrics if entry.comparison}
    assert verdicts["time_to_first_token"] == Verdict.REGRESSION
    assert verdicts["time_per_output_token"] == Verdict.NO_SIGNIFICANT_CHANGE
    assert (report.baseline_count, report.candidate_count) == (40, 40)
    assert {entry.ranked for entry in report.metrics} == {(40, 40)}  # every value ranked
    itself = compare(run_a, run_a)
    assert all(e.comparison and e.comparison.verdict == Verdict.NO_SIGNIFICANT_CHANGE for e in itself.metrics)
    with pytest.raises(EmptySample) as refused:
        compare(run_a, ResultFilter(labels=(("run", "c"),)))
    assert refused.value.side == "candidate"


def test_a_large_side_is_ranked_by_a_sample_while_its_means_and_percentiles_are_over_every_value() -> None:
    store = FakeResultStore(_results(RANK_TEST_SAMPLE + 50, 10, 100.0, "a") + _results(30, 10, 150.0, "b"))
    run_a, run_b = ResultFilter(labels=(("run", "a"),)), ResultFilter(labels=(("run", "b"),))
    report = CompareResults(store, max_results=10**6)(
        run_a, run_b, percentiles=(50.0, 99.0), relative_threshold=0.05, significance=0.05
    )
    ttft = next(entry for entry in report.metrics if entry.metric == "time_to_first_token")
    assert ttft.ranked == (RANK_TEST_SAMPLE, 30)
    assert ttft.baseline is not None
    assert ttft.baseline.count == RANK_TEST_SAMPLE + 50
    # TTFT is 100 + i % 7 on run a: the mean of every value, not of the sample.
    assert ttft.comparison is not None
    assert ttft.comparison.baseline_mean == pytest.approx(
        sum(100 + i % 7 for i in range(RANK_TEST_SAMPLE + 50)) / (RANK_TEST_SAMPLE + 50), rel=1e-12
    )
    assert ttft.comparison.verdict == Verdict.REGRESSION
    # The same data ranks the same sample: the answer is repeatable.
    again = CompareResults(store, max_results=10**6)(
        run_a, run_b, percentiles=(50.0, 99.0), relative_threshold=0.05, significance=0.05
    )
    assert again == report


def test_goodput_and_empty_groups_through_the_use_case() -> None:
    store = FakeResultStore(_results(10, 10, 100.0, "a"))
    query = SummaryQuery(objective=ServiceLevelObjective(time_to_first_token=102))
    (entry,) = DescribeResults(store)(query)
    assert entry.summary.goodput == 6  # ttft is 100 + i % 7: at most 102 for i = 0, 1, 2, 7, 8, 9
    empty = DescribeResults(FakeResultStore())(query)[0].summary
    assert (empty.count, empty.goodput, set(empty.metrics.values())) == (0, 0, {None})


def test_a_comparison_reads_a_quarter_of_the_limit_across_both_sides() -> None:
    store = FakeResultStore(_results(3, 10, 100.0, "a") + _results(3, 10, 100.0, "b"))
    run_a, run_b = ResultFilter(labels=(("run", "a"),)), ResultFilter(labels=(("run", "b"),))
    with pytest.raises(WindowTooLarge) as refused:
        CompareResults(store, max_results=47)(
            run_a, run_b, percentiles=(50.0,), relative_threshold=0.05, significance=0.05
        )
    # Each side's window is all time here: 6 + 6 results against 47 // 4 = 11.
    assert (refused.value.count, refused.value.limit) == (12, 11)
    report = CompareResults(store, max_results=48)(
        run_a, run_b, percentiles=(50.0,), relative_threshold=0.05, significance=0.05
    )
    assert (report.baseline_count, report.candidate_count) == (3, 3)


def test_answers_with_too_many_groups_or_series_points_are_refused() -> None:
    start = TimeWindow.parse("2024-06-01", "2024-06-01").start
    many = [
        BenchmarkResult(f"r{i}", 1, 1.0, 1.0, 1.0, start + timedelta(seconds=i), labels={"request": str(i % 1001)})
        for i in range(1001)
    ]
    store = FakeResultStore(many)
    with pytest.raises(InvalidStatisticsQuery) as refused:
        DescribeResults(store)(SummaryQuery(group_by=Grouping("request")))
    assert refused.value.parameter == "group_by"
    assert len(DescribeResults(FakeResultStore(many[:1000]))(SummaryQuery(group_by=Grouping("request")))) == 1000
    # 11 groups x 9,999 one-minute buckets are more than 100,000 points.
    window = TimeWindow(start, start + timedelta(minutes=9_998))
    eleven = FakeResultStore(many[:11])
    with pytest.raises(InvalidStatisticsQuery):
        FollowResultsOverTime(eleven)(
            SummaryQuery(ResultFilter(window), group_by=Grouping("request")), Bucketing.choose("1m", window)
        )
    ten = FollowResultsOverTime(FakeResultStore(many[:10]))
    assert (
        len(ten(SummaryQuery(ResultFilter(window), group_by=Grouping("request")), Bucketing.choose("1m", window)))
        == 99_990
    )
