"""The averaging rules as an algebra: aggregates of results merge, and a summary comes out of one.

Because aggregates merge, a store may precompute partial aggregates (index nodes, rollups, SQL
SUM/COUNT) and still leave the averaging rule here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from src.domain.benchmark_result import METRICS, BenchmarkResult


@dataclass(frozen=True, slots=True)
class AverageSummary:
    """Averages over the successful results (`count` of them), each metric over those that have
    it; an average is None when no result has its metric. `failed` counts the failed results,
    which no average reads."""

    count: int
    average_token_count: float | None
    average_time_to_first_token: float | None
    average_time_per_output_token: float | None
    average_total_generation_time: float | None
    failed: int = 0


@dataclass(frozen=True, slots=True)
class ResultAggregate:
    """How many successful results, the sum of each metric over them (times in milliseconds), how
    many of them have each metric, and how many results failed.

    The sums and counts follow METRICS order, which stores rely on when they hand them over
    positionally. `metric_counts` None means every successful result has every metric.
    """

    count: int = 0
    token_count: float = 0.0
    time_to_first_token: float = 0.0
    time_per_output_token: float = 0.0
    total_generation_time: float = 0.0
    metric_counts: tuple[int, ...] | None = None
    failed: int = 0

    def __post_init__(self) -> None:
        if self.count < 0 or self.failed < 0:
            raise ValueError(f"an aggregate cannot count {self.count} results and {self.failed} failures")

    @classmethod
    def from_sums(
        cls, count: int, sums: Iterable[float], metric_counts: Iterable[int] | None = None, failed: int = 0
    ) -> ResultAggregate:
        """An aggregate from a count of successes, one sum per metric (METRICS order), optionally
        how many successes have each metric (all of them when None), and the failures."""
        token_count, time_to_first_token, time_per_output_token, total_generation_time = sums
        return cls(
            count,
            token_count,
            time_to_first_token,
            time_per_output_token,
            total_generation_time,
            None if metric_counts is None else tuple(metric_counts),
            failed,
        )

    @property
    def counts(self) -> tuple[int, ...]:
        """How many successful results have each metric, in METRICS order."""
        return (self.count,) * len(METRICS) if self.metric_counts is None else self.metric_counts

    @classmethod
    def of(cls, results: Iterable[BenchmarkResult]) -> ResultAggregate:
        """The exact aggregate: fsum rounds each sum once, whatever the order or magnitudes."""
        collected = list(results)
        successes = [result for result in collected if result.succeeded]
        values = [
            [value for result in successes if (value := getattr(result, metric)) is not None] for metric in METRICS
        ]
        return cls.from_sums(
            len(successes),
            (math.fsum(column) for column in values),
            (len(column) for column in values),
            len(collected) - len(successes),
        )

    def merge(self, other: ResultAggregate) -> ResultAggregate:
        """The aggregate of the union of two disjoint sets of results."""
        return self.from_sums(
            self.count + other.count,
            (getattr(self, metric) + getattr(other, metric) for metric in METRICS),
            (mine + theirs for mine, theirs in zip(self.counts, other.counts, strict=True)),
            self.failed + other.failed,
        )

    def summary(self) -> AverageSummary:
        tokens, first_token, per_output_token, total = (
            getattr(self, metric) / count if count else None for metric, count in zip(METRICS, self.counts, strict=True)
        )
        return AverageSummary(self.count, tokens, first_token, per_output_token, total, self.failed)
