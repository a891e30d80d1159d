"""The statistics practitioners read off LLM benchmark results, as pure functions over plain values.

Percentiles interpolate linearly between closest ranks, exactly as numpy.percentile does by
default; the standard deviation is the population one, as vLLM reports it. Comparison uses the
Mann-Whitney U test (normal approximation with tie and continuity corrections), which assumes
nothing about the shape of latency distributions. Stores may compute these where the data lives;
these functions are the reference their answers are held to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from src.domain.benchmark_result import BenchmarkResult

DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
MILLISECONDS_PER_SECOND = 1000.0


@dataclass(frozen=True, slots=True)
class MetricStats:
    """A metric's summary over `count` values; percentiles are (q, value) pairs in the order asked."""

    count: int
    mean: float
    minimum: float
    maximum: float
    stddev: float
    percentiles: tuple[tuple[float, float], ...]


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
    llmperf's per-user throughput; None when the request took no time, where it is undefined."""
    if result.total_generation_time == 0:
        return None
    return result.token_count / (result.total_generation_time / MILLISECONDS_PER_SECOND)


@dataclass(frozen=True, slots=True)
class ServiceLevelObjective:
    """Upper bounds in milliseconds; a bound left as None is not part of the objective."""

    time_to_first_token: float | None = None
    time_per_output_token: float | None = None
    total_generation_time: float | None = None

    def met_by(self, result: BenchmarkResult) -> bool:
        """Whether the result meets every given bound, as vLLM and GenAI-Perf count goodput."""
        return all(
            bound is None or getattr(result, name) <= bound
            for name, bound in (
                ("time_to_first_token", self.time_to_first_token),
                ("time_per_output_token", self.time_per_output_token),
                ("total_generation_time", self.total_generation_time),
            )
        )


def mann_whitney_p_value(first: Sequence[float], second: Sequence[float]) -> float:
    """Two-sided p-value that the two samples come from the same distribution.

    The U statistic's normal approximation, with the tie correction of its variance and a
    continuity correction (as scipy.stats.mannwhitneyu with method="asymptotic").
    """
    if not first or not second:
        raise ValueError("a comparison needs values on both sides")
    ranks, tie_term = _ranks([*first, *second])
    n1, n2 = len(first), len(second)
    n = n1 + n2
    u1 = math.fsum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0  # every value is the same: nothing tells the samples apart
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """1-based ranks, ties sharing their average rank, and the sum of t^3 - t over tie groups."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_term = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1
        for position in order[start : end + 1]:
            ranks[position] = shared
        tied = end - start + 1
        tie_term += tied**3 - tied
        start = end + 1
    return ranks, tie_term


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
) -> Comparison:
    """Whether the candidate got worse, better, or neither, on one metric.

    A change counts only when it is both large (the means differ by at least
    `relative_threshold` of the baseline's) and significant (p < `significance`).
    """
    baseline_mean = math.fsum(baseline) / len(baseline) if baseline else math.nan
    candidate_mean = math.fsum(candidate) / len(candidate) if candidate else math.nan
    p_value = mann_whitney_p_value(baseline, candidate)
    change = candidate_mean - baseline_mean
    relative = change / baseline_mean if baseline_mean else None
    large = abs(change) > 0 if relative is None else abs(relative) >= relative_threshold
    verdict = Verdict.NO_SIGNIFICANT_CHANGE
    if large and p_value < significance:
        worse = change > 0 if lower_is_better else change < 0
        verdict = Verdict.REGRESSION if worse else Verdict.IMPROVEMENT
    return Comparison(baseline_mean, candidate_mean, change, relative, p_value, verdict)
