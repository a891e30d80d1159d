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
    """Averages are None when no result was aggregated: there is nothing to average."""

    count: int
    average_token_count: float | None
    average_time_to_first_token: float | None
    average_time_per_output_token: float | None
    average_total_generation_time: float | None


@dataclass(frozen=True, slots=True)
class ResultAggregate:
    """How many results, and the sum of each metric over them (times in milliseconds).

    The sums follow METRICS order, which stores rely on when they hand over sums positionally.
    """

    count: int = 0
    token_count: float = 0.0
    time_to_first_token: float = 0.0
    time_per_output_token: float = 0.0
    total_generation_time: float = 0.0

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"an aggregate cannot count {self.count} results")

    @classmethod
    def from_sums(cls, count: int, sums: Iterable[float]) -> ResultAggregate:
        """An aggregate from a count and one sum per metric, in METRICS order."""
        return cls(count, *sums)

    @classmethod
    def of(cls, results: Iterable[BenchmarkResult]) -> ResultAggregate:
        """The exact aggregate: fsum rounds each sum once, whatever the order or magnitudes."""
        collected = list(results)
        return cls.from_sums(
            len(collected),
            (math.fsum(getattr(result, metric) for result in collected) for metric in METRICS),
        )

    def merge(self, other: ResultAggregate) -> ResultAggregate:
        """The aggregate of the union of two disjoint sets of results."""
        return self.from_sums(
            self.count + other.count,
            (getattr(self, metric) + getattr(other, metric) for metric in METRICS),
        )

    def summary(self) -> AverageSummary:
        if self.count == 0:
            return AverageSummary(0, None, None, None, None)
        return AverageSummary(
            count=self.count,
            average_token_count=self.token_count / self.count,
            average_time_to_first_token=self.time_to_first_token / self.count,
            average_time_per_output_token=self.time_per_output_token / self.count,
            average_total_generation_time=self.total_generation_time / self.count,
        )
