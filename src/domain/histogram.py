"""Distributions of one metric: bin edges and exact counts, as pure functions over plain values.

A histogram has `bins` bins between ascending edges; bin i holds the values v with
edges[i] <= v < edges[i + 1], and the last bin also holds its upper edge, the maximum. Every value
falls in exactly one bin, so the counts sum to the number of values.

- **linear** edges split [min, max] evenly.
- **log** edges are geometric from the smallest positive value to the maximum: latencies and
  throughputs spread over orders of magnitude. A value <= 0 (a 0-token count) has no logarithm;
  it is counted in the first bin.

When every value is the same (or, on the log scale, when at most one positive value is found),
there is nothing to split: one bin holds everything, between that value's edges ([min, max] on
the linear scale; [the positive value, max], or [min, max] with no positive value, on the log one).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import pairwise

from src.domain.errors import InvalidStatisticsQuery

DEFAULT_BINS = 50
MAX_BINS = 1_000


class Scale(Enum):
    LINEAR = "linear"
    LOG = "log"

    @classmethod
    def parse(cls, text: str) -> Scale:
        try:
            return cls(text)
        except ValueError:
            names = " or ".join(scale.value for scale in cls)
            raise InvalidStatisticsQuery("scale", f"{text!r} is neither {names}") from None


@dataclass(frozen=True, slots=True)
class Histogram:
    """`counts[i]` values lie in [edges[i], edges[i + 1]) (the last bin includes its upper edge).
    Without values there are no edges and no counts, and no minimum or maximum."""

    scale: Scale
    count: int
    minimum: float | None
    maximum: float | None
    edges: tuple[float, ...] | None
    counts: tuple[int, ...]

    def bins(self) -> Iterable[tuple[float, float, int]]:
        """(start, end, count) of every bin, in ascending order."""
        edges = self.edges or ()
        return zip(edges[:-1], edges[1:], self.counts, strict=True)


def check_bins(bins: int) -> int:
    if not 1 <= bins <= MAX_BINS:
        raise InvalidStatisticsQuery("bins", f"a histogram has 1 to {MAX_BINS} bins, not {bins}")
    return bins


def histogram_edges(sorted_values: Sequence[float], bins: int, scale: Scale) -> tuple[float, ...]:
    """The bin edges of values sorted ascending (at least one value): bins + 1 ascending values,
    or 2 when nothing can be split."""
    check_bins(bins)
    if not sorted_values:
        raise ValueError("a histogram's edges need at least one value")
    low, high = sorted_values[0], sorted_values[-1]
    if scale is Scale.LOG:
        positive = bisect_right(sorted_values, 0.0)
        low = sorted_values[positive] if positive < len(sorted_values) else low
        if low <= 0 or low == high:
            return (low, high)
        ratio = math.log(high) - math.log(low)
        inner = (math.exp(math.log(low) + ratio * i / bins) for i in range(1, bins))
    else:
        if low == high:
            return (low, high)
        width = high - low
        inner = (low + width * i / bins for i in range(1, bins))
    # Clamped, and made ascending, against the last bit of rounding: the edges never leave [low, high].
    edges = [low]
    for edge in inner:
        edges.append(min(max(edge, edges[-1]), high))
    edges.append(high)
    return tuple(edges)


def bin_counts(sorted_values: Sequence[float], edges: Sequence[float]) -> tuple[int, ...]:
    """How many of the values (sorted ascending) fall in each bin; values below the first edge
    (a log scale's values <= 0) count in the first bin, the maximum in the last."""
    # The values below an edge are bisect_left of it: a bin's count is the difference at its two edges.
    below = [0, *(bisect_left(sorted_values, edge) for edge in edges[1:-1]), len(sorted_values)]
    return tuple(past - first for first, past in pairwise(below))


def bin_of(value: float, edges: Sequence[float]) -> int:
    """The bin a single value falls in, by the rule above: the reference the counts are held to."""
    return min(max(bisect_right(edges, value) - 1, 0), len(edges) - 2)


def histogram(values: Iterable[float], bins: int = DEFAULT_BINS, scale: Scale = Scale.LINEAR) -> Histogram:
    """The histogram of some values (in any order; sorted ones cost a linear pass)."""
    ordered = sorted(values)
    check_bins(bins)
    if not ordered:
        return Histogram(scale, 0, None, None, None, ())
    edges = histogram_edges(ordered, bins, scale)
    return Histogram(scale, len(ordered), ordered[0], ordered[-1], edges, bin_counts(ordered, edges))
