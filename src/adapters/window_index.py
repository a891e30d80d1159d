"""Results sorted by timestamp under a segment tree of metric sums: any window in O(log n).

Prefix sums would also answer in O(log n), but subtracting two large running sums cancels the
digits of a small window. Tree nodes hold sums of non-negative values, and a window adds at
most 2·log2(n) of them, so nothing cancels and every sum keeps ~1e-14 relative accuracy.

Undefined metrics and failed results' metrics are NaN in the leaves and enter no node's sum.
How many results failed, and how many successes have a metric that some lack, are counted
with prefix sums of integers, which are exact; a file where every result succeeded with every
metric, the usual case, keeps no counts at all.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Protocol

import numpy as np
import numpy.typing as npt

from src.domain.benchmark_result import METRICS, STORED_METRICS
from src.domain.result_aggregate import ResultAggregate

_AVERAGED = len(METRICS)
_PROMPT_TOKENS = STORED_METRICS.index("prompt_token_count")


class IndexedColumns(Protocol):
    """Results column by column, in any order: instants in UTC microseconds, one column per metric
    in STORED_METRICS order (NaN where undefined), and which failed (None when none did)."""

    @property
    def timestamps(self) -> npt.NDArray[np.int64]: ...

    @property
    def metrics(self) -> tuple[npt.NDArray[np.float64], ...]: ...

    @property
    def failed(self) -> npt.NDArray[np.bool_] | None: ...


class WindowIndex:
    """The JSON store's results, or PostgreSQL's copy of them (see averages_mirror), for window averages."""

    def __init__(self, columns: IndexedColumns) -> None:
        if len(columns.metrics) != len(STORED_METRICS):
            raise ValueError(f"expected one column per stored metric ({len(STORED_METRICS)})")
        order = np.argsort(columns.timestamps)
        self.order = order
        """File positions in time order; among equal timestamps, in no particular order."""
        self.timestamps = columns.timestamps[order].data
        """The timestamps in time order (a memoryview: bisect searches it faster than numpy)."""
        self._size = size = len(order)
        failed = None if columns.failed is None or not columns.failed.any() else columns.failed[order]
        self._failed = failed
        """Which results failed, in time order; None when none did."""
        # Node i sums nodes 2i and 2i+1; leaves sit at [n, 2n); one column per averaged metric,
        # in METRICS order.
        tree = np.zeros((2 * size, _AVERAGED), dtype=np.float64)  # node 0 is never used
        leaves = tree[size:]
        for position in range(_AVERAGED):
            leaves[:, position] = columns.metrics[position][order]
        if failed is not None:
            leaves[failed] = np.nan
        undefined = np.isnan(leaves)
        self._undefined = bool(undefined.any())
        """Whether any leaf is NaN: only then do sums look for NaN."""
        _sum_levels(tree, size, skip_nan=self._undefined)
        self._tree = tree
        prompt_tokens = columns.metrics[_PROMPT_TOKENS]
        self._prompt_tokens = None if np.isnan(prompt_tokens).all() else prompt_tokens[order]
        """The input tokens in time order, which no average reads; None when no result has them."""
        lacking = np.any(undefined if failed is None else undefined[~failed], axis=0).tolist()
        self._counted = [position for position in range(_AVERAGED) if lacking[position]]
        """The metrics some successful result lacks: how many have them is counted, not taken as the successes."""
        tallies = [] if failed is None else [failed]
        tallies.extend(~undefined[:, position] for position in self._counted)
        del undefined
        self._counts: npt.NDArray[np.int64] | None = None
        """Row i counts the failures, then the defined values of each counted metric, before position i."""
        if tallies:
            counts = np.zeros((size + 1, len(tallies)), dtype=np.int64)
            np.cumsum(np.column_stack(tallies), axis=0, out=counts[1:])
            self._counts = counts
        self._everything = self._aggregate_positions(0, size)

    def aggregate_all(self) -> ResultAggregate:
        return self._everything

    def aggregate_between(self, start: int, end: int) -> ResultAggregate:
        """Results with start <= timestamp <= end, both in UTC microseconds."""
        return self._aggregate_positions(*self.positions_between(start, end))

    def positions_between(self, start: int, end: int) -> tuple[int, int]:
        """The time-order positions [first, past_last) of results with start <= timestamp <= end."""
        # Microseconds are integers, so "<= end" is "< end + 1". bisect on a memoryview answers
        # a single search faster than a numpy call does.
        first = bisect_left(self.timestamps, start)
        return first, bisect_left(self.timestamps, end + 1, lo=first)

    def columns_between(
        self, first: int, past_last: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_] | None]:
        """The stored metrics (STORED_METRICS order, NaN where undefined; a copy) of the results at
        time-order positions [first, past_last), and which of them failed (None when none did)."""
        columns = np.empty((max(past_last - first, 0), len(STORED_METRICS)), dtype=np.float64, order="F")
        columns[:, :_AVERAGED] = self._tree[self._size + first : self._size + past_last]
        prompt_tokens = np.nan if self._prompt_tokens is None else self._prompt_tokens[first:past_last]
        columns[:, _PROMPT_TOKENS] = prompt_tokens
        failed = None if self._failed is None else self._failed[first:past_last]
        return columns, failed

    def _aggregate_positions(self, first: int, past_last: int) -> ResultAggregate:
        size = past_last - first
        if size <= 0:
            return ResultAggregate()
        nodes = []
        low, high = first + self._size, past_last + self._size
        while low < high:
            if low & 1:
                nodes.append(low)
                low += 1
            if high & 1:
                high -= 1
                nodes.append(high)
            low >>= 1
            high >>= 1
        taken = self._tree.take(nodes, axis=0)
        if self._undefined:
            # Only leaves, taken at the window's edges, may be NaN; inner nodes never are.
            taken[np.isnan(taken)] = 0.0
        sums = np.add.reduce(taken).tolist()
        if self._counts is None:
            return ResultAggregate.from_sums(size, sums)
        counts = (self._counts[past_last] - self._counts[first]).tolist()
        failed = 0 if self._failed is None else counts.pop(0)
        metric_counts = [size - failed] * _AVERAGED
        for position, count in zip(self._counted, counts, strict=True):
            metric_counts[position] = count
        return ResultAggregate.from_sums(size - failed, sums, metric_counts, failed)


def _sum_levels(tree: npt.NDArray[np.float64], size: int, *, skip_nan: bool) -> None:
    # Fill parents a level at a time, vectorised: nodes [low, high) only need children >= high,
    # which are already summed when low = ceil(high / 2). Children 2i and 2i+1 are adjacent rows,
    # so a level is one addition over row pairs. With `skip_nan`, a NaN leaf adds nothing; only
    # the levels whose children include leaves (index >= size) need to look.
    high = size
    while high > 1:
        low = (high + 1) // 2
        children = tree[2 * low : 2 * high].reshape(-1, 2, tree.shape[1])
        if skip_nan and 2 * high > size:
            np.nansum(children, axis=1, out=tree[low:high])
        else:
            np.add(children[:, 0], children[:, 1], out=tree[low:high])
        high = low
