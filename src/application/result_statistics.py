"""Use cases that describe results: statistics per group, time series, comparisons and histograms.

Statistics and time series take any window: every store answers them at a cost that follows the
answer (PostgreSQL from its summaries, beyond a size with sketched percentiles; SQLite and the
JSON file exactly, from columns of numbers). Comparisons and histograms read their values, so
they first ask the store how many results their windows hold, which it answers without reading
them, and refuse windows over the limit before any result is read.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

from src.application.ports.result_store import ResultStore, SummaryQuery
from src.domain.errors import EmptySample, InvalidStatisticsQuery, WindowTooLarge
from src.domain.histogram import Histogram, Scale, bin_counts, check_bins, histogram_edges
from src.domain.result_selection import ResultFilter
from src.domain.statistics import (
    LOWER_IS_BETTER,
    STATISTIC_METRICS,
    Comparison,
    MetricStats,
    ResultSummary,
    compare,
    describe,
    refuse_oversized_answer,
)
from src.domain.time_buckets import Bucketing

DEFAULT_MAX_STATISTICS_RESULTS = 2_000_000
RANK_TEST_SAMPLE = 10_000
"""The most values of a side the U test ranks: past it, a uniform random sample of that many
(drawn with a fixed seed, so the same data gives the same answer). The test runs in pure Python,
some 7 us per value and metric. Ranking 10,000 against 10,000 finds a shift of 5% of a standard
deviation (normal data) at p < 0.05 nine times in ten, (1.96 + 1.28) / sqrt(0.955 * 5,000); means
and percentiles stay those of every value."""
# A comparison may read this fraction of the limit, across both of its sides.
COMPARE_SHARE = 4


def empty_summary(query: SummaryQuery) -> ResultSummary:
    return ResultSummary(0, dict.fromkeys(STATISTIC_METRICS, None), None if query.objective is None else 0)


class _Limited:
    def __init__(self, results: ResultStore, max_results: int = DEFAULT_MAX_STATISTICS_RESULTS) -> None:
        self._results = results
        self._max_results = max_results

    def _within_limit(self, *selections: ResultFilter, share: int = 1) -> None:
        """Refuse when the windows hold more than 1/share of the limit together."""
        # The windows' counts, before the model and label filters: the store knows them without
        # reading a result, and they bound what the filters will have to read.
        count = sum(self._aggregate_total(selection) for selection in selections)
        limit = self._max_results // share
        if count > limit:
            raise WindowTooLarge(count, limit)

    def _aggregate_total(self, selection: ResultFilter) -> int:
        aggregate = self._results.aggregate(selection.window)
        return aggregate.count + aggregate.failed


@dataclass(frozen=True, slots=True)
class GroupSummary:
    group: str | None
    summary: ResultSummary


class DescribeResults:
    """Statistics of the selected results, per group when grouped (largest group first)."""

    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, query: SummaryQuery) -> list[GroupSummary]:
        found = self._results.summarize(replace(query, bucket_width=None))
        if query.group_by is None:
            return [GroupSummary(None, found.get((None, None)) or empty_summary(query))]
        groups = [GroupSummary(group, summary) for (group, _), summary in found.items()]
        refuse_oversized_answer(len(groups), len(groups))
        return sorted(groups, key=lambda entry: (-entry.summary.total, entry.group is None, entry.group or ""))


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    bucket: int
    group: str | None
    summary: ResultSummary


class FollowResultsOverTime:
    """Statistics per time bucket, every bucket of the window included, empty ones with count 0;
    when grouped, a full series per group that has results."""

    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, query: SummaryQuery, bucketing: Bucketing) -> list[SeriesPoint]:
        if query.selection.window is None:
            raise InvalidStatisticsQuery("start", "a time series needs a window: give start and end")
        found = self._results.summarize(replace(query, bucket_width=bucketing.width))
        groups = sorted({group for group, _ in found}, key=lambda group: (group is None, group or ""))
        if query.group_by is None:
            groups = [None]
        # Empty buckets are listed too: the answer holds every bucket of every group.
        refuse_oversized_answer(len(groups), len(groups) * bucketing.count)
        return [
            SeriesPoint(bucket, group, found.get((group, bucket)) or empty_summary(query))
            for group in groups
            for bucket in range(bucketing.first, bucketing.last + 1)
        ]


@dataclass(frozen=True, slots=True)
class MetricComparison:
    metric: str
    lower_is_better: bool
    baseline: MetricStats | None
    candidate: MetricStats | None
    comparison: Comparison | None
    """None when a side has no value of the metric (throughput of requests that took no time)."""
    ranked: tuple[int, int] = (0, 0)
    """The values of each side the rank test ranked: all of them, or RANK_TEST_SAMPLE of them."""


@dataclass(frozen=True, slots=True)
class ComparisonReport:
    """Each side's successful results (`*_count`) and failed ones; metrics compare successes only."""

    baseline_count: int
    candidate_count: int
    metrics: list[MetricComparison]
    baseline_failed: int = 0
    candidate_failed: int = 0


class CompareResults(_Limited):
    """Whether the candidate's results are slower, faster or neither than the baseline's, per metric."""

    def __call__(
        self,
        baseline: ResultFilter,
        candidate: ResultFilter,
        *,
        percentiles: tuple[float, ...],
        relative_threshold: float,
        significance: float,
    ) -> ComparisonReport:
        # Both sides are ranked by the domain's U test in pure Python: some 40 us per result for
        # all metrics, against some 2 us for the statistics stores push down (measured at 1e6).
        self._within_limit(baseline, candidate, share=COMPARE_SHARE)
        sides, failures = [], []
        for name, selection in (("baseline", baseline), ("candidate", candidate)):
            values = self._results.sorted_values(selection)
            if not values["token_count"]:
                raise EmptySample(name)
            sides.append(values)
            failures.append(self._failed(selection))
        before, after = sides
        return ComparisonReport(
            len(before["token_count"]),
            len(after["token_count"]),
            list(_metric_comparisons(before, after, percentiles, relative_threshold, significance)),
            *failures,
        )

    def _failed(self, selection: ResultFilter) -> int:
        return _failed(self._results, selection)


def _failed(results: ResultStore, selection: ResultFilter) -> int:
    """The failed results among the selected ones."""
    # A summary without percentiles: one pass that counts, with no sort.
    found = results.summarize(SummaryQuery(selection, percentiles=()))
    return sum(summary.failed for summary in found.values())


@dataclass(frozen=True, slots=True)
class DistributionReport:
    """A metric's histogram over the selected successful results, beside the failed ones."""

    metric: str
    histogram: Histogram
    failed: int


class DescribeDistribution(_Limited):
    """How one metric's values spread: a histogram of the selected successful results (undefined
    values left out), binned by the domain's rule over the store's sorted values of that metric."""

    def __call__(self, selection: ResultFilter, metric: str, *, bins: int, scale: Scale) -> DistributionReport:
        if metric not in STATISTIC_METRICS:
            raise InvalidStatisticsQuery("metric", f"{metric!r} is none of {', '.join(STATISTIC_METRICS)}")
        check_bins(bins)
        self._within_limit(selection)
        # Sorted by the store (numpy, or the database): edges and counts then cost bins binary
        # searches, not a pass over the values in Python.
        values, failed = self._results.metric_values(selection, metric)
        if not values:
            return DistributionReport(metric, Histogram(scale, 0, None, None, None, ()), failed)
        edges = histogram_edges(values, bins, scale)
        found = Histogram(scale, len(values), values[0], values[-1], edges, bin_counts(values, edges))
        return DistributionReport(metric, found, failed)


def _metric_comparisons(
    before: dict[str, list[float]],
    after: dict[str, list[float]],
    percentiles: tuple[float, ...],
    relative_threshold: float,
    significance: float,
) -> Iterator[MetricComparison]:
    for metric, lower_is_better in LOWER_IS_BETTER.items():
        baseline, candidate = describe(before[metric], percentiles), describe(after[metric], percentiles)
        comparison = None
        ranked = (0, 0)
        if baseline is not None and candidate is not None:
            first, second = _rank_sample(before[metric]), _rank_sample(after[metric])
            comparison = compare(
                first,
                second,
                lower_is_better=lower_is_better,
                relative_threshold=relative_threshold,
                significance=significance,
                means=(baseline.mean, candidate.mean),
            )
            ranked = (len(first), len(second))
        yield MetricComparison(metric, lower_is_better, baseline, candidate, comparison, ranked)


def _rank_sample(values: list[float]) -> list[float]:
    """The values the rank test ranks: all, or RANK_TEST_SAMPLE of them drawn with a fixed seed."""
    if len(values) <= RANK_TEST_SAMPLE:
        return values
    return random.Random(len(values)).sample(values, RANK_TEST_SAMPLE)
