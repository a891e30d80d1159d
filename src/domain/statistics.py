"""The statistics practitioners read off LLM benchmark results, as pure functions over plain values.

Percentiles interpolate linearly between closest ranks, exactly as numpy.percentile does by
default; the standard deviation is the population one, as vLLM reports it. Comparison uses the
Mann-Whitney U test (normal approximation with tie and continuity corrections), which assumes
nothing about the shape of latency distributions. Stores may compute these where the data lives;
these functions are the reference their answers are held to.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from src.domain.benchmark_result import STORED_METRICS, TIME_FIELDS, BenchmarkResult
from src.domain.errors import InvalidStatisticsQuery

DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
MAX_PERCENTILES = 20
# Bounds on the size of an answer: a group_by over a label unique to each result would otherwise
# ask for a summary per result, and a time series multiplies its groups by its buckets.
MAX_GROUPS = 1_000
MAX_SERIES_POINTS = 100_000
MILLISECONDS_PER_SECOND = 1000.0
# Throughput is left out for requests shorter than a microsecond: no benchmark clock measures
# them, 0 ms leaves it undefined, and a bound keeps every throughput (and its sums) finite.
MIN_THROUGHPUT_MILLISECONDS = 0.001

OUTPUT_THROUGHPUT = "output_throughput"
# Every summarised metric: the stored ones, then the derived throughput, in the order answers keep.
STATISTIC_METRICS = (*STORED_METRICS, OUTPUT_THROUGHPUT)
UNITS = {
    "token_count": "tokens",
    **dict.fromkeys(TIME_FIELDS, "ms"),
    "prompt_token_count": "tokens",
    OUTPUT_THROUGHPUT: "tokens/s",
}
# The metrics a comparison judges, and which way is better: shorter times, more tokens per second.
# A token count is the workload, not a speed, so no change in it is better or worse.
LOWER_IS_BETTER = {**dict.fromkeys(TIME_FIELDS, True), OUTPUT_THROUGHPUT: False}


@dataclass(frozen=True, slots=True)
class MetricStats:
    """A metric's summary over `count` values; percentiles are (q, value) pairs in the order asked."""

    count: int
    mean: float
    minimum: float
    maximum: float
    stddev: float
    percentiles: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class ResultSummary:
    """What a set of results looks like: how many succeeded (`count`) and failed, each metric's
    summary over the successes that have it (None where none has: TTFT of a non-streaming run,
    throughput of requests that took no time), and, when an objective was given, how many
    successes met it (goodput). Percentiles are exact when `percentile_accuracy` is None;
    otherwise each lies within that fraction of the exact one (a quantile sketch's relative accuracy)."""

    count: int
    metrics: dict[str, MetricStats | None]
    goodput: int | None = None
    failed: int = 0
    percentile_accuracy: float | None = None

    @property
    def total(self) -> int:
        """Every result, successful or failed."""
        return self.count + self.failed

    @property
    def goodput_share(self) -> float | None:
        """The share of all results, failed ones included, that succeeded and met the objective
        (vLLM's and GenAI-Perf's goodput over every request sent); None without an objective or results."""
        return self.goodput / self.total if self.goodput is not None and self.total else None

    @property
    def error_rate(self) -> float | None:
        """Failed results over all results (AIPerf's error share); None without results."""
        return self.failed / self.total if self.total else None


def refuse_oversized_answer(groups: int, summaries: int) -> None:
    """Refuse an answer of more than MAX_GROUPS groups or MAX_SERIES_POINTS summaries."""
    if groups > MAX_GROUPS:
        raise InvalidStatisticsQuery(
            "group_by", f"the results fall into {groups} groups, more than {MAX_GROUPS}; filter by model or label first"
        )
    if summaries > MAX_SERIES_POINTS:
        raise InvalidStatisticsQuery(
            "group_by",
            f"{summaries} summaries (groups x buckets) exceed {MAX_SERIES_POINTS}; use fewer groups or buckets",
        )


def parse_percentiles(text: str) -> tuple[float, ...]:
    """Percentiles written as a comma list ("50,90,99.9"), each strictly between 0 and 100
    (0 and 100 are the minimum and maximum, which are always given); repeats are dropped."""
    chosen: list[float] = []
    for part in text.split(","):
        try:
            q = float(part)
        except ValueError:
            raise InvalidStatisticsQuery("percentiles", f"{part.strip()!r} is not a number") from None
        if not 0 < q < 100:
            raise InvalidStatisticsQuery("percentiles", f"{part.strip()} lies outside (0, 100)")
        if q not in chosen:
            chosen.append(q)
    if len(chosen) > MAX_PERCENTILES:
        raise InvalidStatisticsQuery("percentiles", f"at most {MAX_PERCENTILES} percentiles, not {len(chosen)}")
    return tuple(chosen)


def percentile_name(q: float) -> str:
    """How a percentile is labelled in answers: p50, p99.9."""
    return f"p{q:g}"


def metric_values(result: BenchmarkResult) -> dict[str, float | None]:
    """A successful result's value of every summarised metric; None where it is undefined."""
    return {
        **{metric: None if (value := getattr(result, metric)) is None else float(value) for metric in STORED_METRICS},
        OUTPUT_THROUGHPUT: output_throughput(result),
    }


def summarize(
    results: Iterable[BenchmarkResult],
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    objective: ServiceLevelObjective | None = None,
) -> ResultSummary:
    """The reference summary of some results, to which every store's own computation is held:
    metrics over the successful results only, each over those that have it."""
    collected = list(results)
    chosen = [result for result in collected if result.succeeded]
    values = [metric_values(result) for result in chosen]
    return ResultSummary(
        count=len(chosen),
        metrics={
            metric: describe((value for v in values if (value := v[metric]) is not None), percentiles)
            for metric in STATISTIC_METRICS
        },
        goodput=None if objective is None else sum(1 for result in chosen if objective.met_by(result)),
        failed=len(collected) - len(chosen),
    )


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 <= q <= 100) of values sorted ascending, by linear interpolation."""
    if not sorted_values:
        raise ValueError("a percentile needs at least one value")
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile lies between 0 and 100, not {q}")
    # The same operations, in the same order, as numpy's "linear" method, so that results agree
    # to the last bit: the virtual index, then an interpolation anchored at the nearer neighbour.
    position = (len(sorted_values) - 1) * (q / 100)
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    fraction = position - below
    low, high = sorted_values[below], sorted_values[above]
    difference = high - low
    if fraction >= 0.5:
        return high - difference * (1 - fraction)
    return low + difference * fraction


def describe(values: Iterable[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> MetricStats | None:
    """Count, mean, extremes, population standard deviation and percentiles; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    count = len(ordered)
    mean = math.fsum(ordered) / count
    variance = math.fsum((value - mean) ** 2 for value in ordered) / count
    return MetricStats(
        count=count,
        mean=mean,
        minimum=ordered[0],
        maximum=ordered[-1],
        stddev=math.sqrt(variance),
        percentiles=tuple((q, percentile(ordered, q)) for q in percentiles),
    )


def output_throughput(result: BenchmarkResult) -> float | None:
    """Output tokens per second over the whole request (token_count / total_generation_time), as
    llmperf's per-user throughput; None for requests shorter than MIN_THROUGHPUT_MILLISECONDS, and
    for a failed request or one missing either figure."""
    tokens, milliseconds = result.token_count, result.total_generation_time
    if not result.succeeded or tokens is None or milliseconds is None or milliseconds < MIN_THROUGHPUT_MILLISECONDS:
        return None
    return tokens / (milliseconds / MILLISECONDS_PER_SECOND)


@dataclass(frozen=True, slots=True)
class ServiceLevelObjective:
    """Upper bounds in milliseconds; a bound left as None is not part of the objective."""

    time_to_first_token: float | None = None
    time_per_output_token: float | None = None
    total_generation_time: float | None = None

    def bounds(self) -> dict[str, float]:
        """The given bounds by metric name."""
        return {
            name: bound
            for name, bound in (
                ("time_to_first_token", self.time_to_first_token),
                ("time_per_output_token", self.time_per_output_token),
                ("total_generation_time", self.total_generation_time),
            )
            if bound is not None
        }

    def met_by(self, result: BenchmarkResult) -> bool:
        """Whether the result succeeded and meets every given bound, as vLLM and GenAI-Perf count
        goodput; a bound on a metric the result does not have (TTFT without streaming) is not met."""
        return result.succeeded and all(
            (value := getattr(result, name)) is not None and value <= bound for name, bound in self.bounds().items()
        )


def mann_whitney_p_value(first: Iterable[float], second: Iterable[float]) -> float:
    """Two-sided p-value that the two samples come from the same distribution.

    The U statistic's normal approximation, with the tie correction of its variance and a
    continuity correction (as scipy.stats.mannwhitneyu with method="asymptotic").
    """
    ordered_first, ordered_second = sorted(first), sorted(second)
    n1, n2 = len(ordered_first), len(ordered_second)
    if not n1 or not n2:
        raise ValueError("a comparison needs values on both sides")
    twice_u1, tie_term = _twice_u_and_ties(ordered_first, ordered_second)
    n = n1 + n2
    u = max(twice_u1, 2 * n1 * n2 - twice_u1) / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0  # every value is the same: nothing tells the samples apart
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def _twice_u_and_ties(first: list[float], second: list[float]) -> tuple[int, int]:
    """2·U of the first sample and the sum of t^3 - t over groups of tied values, from both
    samples sorted ascending, in one merge: O(n) rather than ranking the pooled values.

    Integers throughout: a tie group shares the average of its ranks, a half-integer, so twice
    the rank sum is exact at any sample size.
    """
    twice_rank_sum, tie_term, ranked = 0, 0, 0
    i = j = 0
    n1, n2 = len(first), len(second)
    while i < n1 or j < n2:
        value = first[i] if j == n2 or (i < n1 and first[i] <= second[j]) else second[j]
        past_i = bisect_right(first, value, i)
        past_j = bisect_right(second, value, j)
        in_first, tied = past_i - i, past_i - i + past_j - j
        # The group holds ranks ranked+1 .. ranked+tied; twice their mean is 2·ranked + tied + 1.
        twice_rank_sum += in_first * (2 * ranked + tied + 1)
        tie_term += tied**3 - tied
        ranked += tied
        i, j = past_i, past_j
    return twice_rank_sum - n1 * (n1 + 1), tie_term


class Verdict(Enum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NO_SIGNIFICANT_CHANGE = "no significant change"


@dataclass(frozen=True, slots=True)
class Comparison:
    baseline_mean: float
    candidate_mean: float
    absolute_change: float
    relative_change: float | None
    """(candidate - baseline) / baseline; None when the baseline mean is 0."""
    p_value: float
    verdict: Verdict


def compare(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    lower_is_better: bool,
    relative_threshold: float = 0.05,
    significance: float = 0.05,
    means: tuple[float, float] | None = None,
) -> Comparison:
    """Whether the candidate got worse, better, or neither, on one metric.

    A change counts only when it is both large (the means differ by at least
    `relative_threshold` of the baseline's) and significant (p < `significance`). `means`, when
    given, are the sides' means over all their values, `baseline` and `candidate` then being
    samples of them for the rank test.
    """
    p_value = mann_whitney_p_value(baseline, candidate)  # refuses an empty side
    if means is None:
        means = (math.fsum(baseline) / len(baseline), math.fsum(candidate) / len(candidate))
    baseline_mean, candidate_mean = means
    change = candidate_mean - baseline_mean
    relative = change / baseline_mean if baseline_mean else None
    large = abs(change) > 0 if relative is None else abs(relative) >= relative_threshold
    verdict = Verdict.NO_SIGNIFICANT_CHANGE
    if large and p_value < significance:
        worse = change > 0 if lower_is_better else change < 0
        verdict = Verdict.REGRESSION if worse else Verdict.IMPROVEMENT
    return Comparison(baseline_mean, candidate_mean, change, relative, p_value, verdict)
