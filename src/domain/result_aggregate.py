"""The averaging rules as an algebra: aggregates of results merge, and a summary comes out of one.

Because aggregates merge, a store may precompute partial aggregates (index nodes, rollups, SQL
SUM/COUNT) and still leave the averaging rule here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from src.domain.benchmark_result import BenchmarkResult


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
    """How many results, and the sum of each metric over them (times in milliseconds)."""

    count: int = 0
    token_count: float = 0.0
    time_to_first_token: float = 0.0
    time_per_output_token: float = 0.0
    total_generation_time: float = 0.0

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"an aggregate cannot count {self.count} results")

    @classmethod
    def of(cls, results: Iterable[BenchmarkResult]) -> ResultAggregate:
        """The exact aggregate: fsum rounds each sum once, whatever the order or magnitudes."""
        collected = list(results)
        return cls(
            count=len(collected),
            token_count=math.fsum(result.token_count for result in collected),
            time_to_first_token=math.fsum(result.time_to_first_token for result in collected),
            time_per_output_token=math.fsum(result.time_per_output_token for result in collected),
            total_generation_time=math.fsum(result.total_generation_time for result in collected),
        )

    def merge(self, other: ResultAggregate) -> ResultAggregate:
        """The aggregate of the union of two disjoint sets of results."""
        return ResultAggregate(
            count=self.count + other.count,
            token_count=self.token_count + other.token_count,
            time_to_first_token=self.time_to_first_token + other.time_to_first_token,
            time_per_output_token=self.time_per_output_token + other.time_per_output_token,
            total_generation_time=self.total_generation_time + other.total_generation_time,
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
