"""Results sorted by timestamp under a segment tree of metric sums: any window in O(log n).

Prefix sums would also answer in O(log n), but subtracting two large running sums cancels the
digits of a small window. Tree nodes hold sums of non-negative values, and a window adds at
most 2·log2(n) of them, so nothing cancels and every sum keeps ~1e-14 relative accuracy.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np
import numpy.typing as npt

from src.adapters.json_store.result_file import ResultColumns
from src.domain.result_aggregate import ResultAggregate


class WindowIndex:
    def __init__(self, columns: ResultColumns) -> None:
        order = np.argsort(columns.timestamps)
        self.order = order
        """File positions in time order; among equal timestamps, in no particular order."""
        self.timestamps = columns.timestamps[order].data
        """The timestamps in time order (a memoryview: bisect searches it faster than numpy)."""
        self._size = len(order)
        # Node i sums nodes 2i and 2i+1; leaves sit at [n, 2n); one column per metric, in the
        # columns' (METRICS) order.
        tree = np.zeros((2 * self._size, len(columns.metrics)), dtype=np.float64)  # node 0 is never used
        leaves = tree[self._size :]
        for position, metric in enumerate(columns.metrics):
            leaves[:, position] = metric[order]
        _sum_levels(tree, self._size)
        self._tree = tree
        self._everything = self._aggregate_positions(0, self._size)

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

    def metrics_between(self, first: int, past_last: int) -> npt.NDArray[np.float64]:
        """The metrics (METRICS order) of the results at time-order positions [first, past_last):
        the tree's leaves, so a view, not a copy."""
        return self._tree[self._size + first : self._size + past_last]

    def _aggregate_positions(self, first: int, past_last: int) -> ResultAggregate:
        count = past_last - first
        if count <= 0:
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
        return ResultAggregate.from_sums(count, np.add.reduce(self._tree.take(nodes, axis=0)).tolist())


def _sum_levels(tree: npt.NDArray[np.float64], size: int) -> None:
    # Fill parents a level at a time, vectorised: nodes [low, high) only need children >= high,
    # which are already summed when low = ceil(high / 2). Children 2i and 2i+1 are adjacent rows,
    # so a level is one addition over row pairs.
    high = size
    while high > 1:
        low = (high + 1) // 2
        children = tree[2 * low : 2 * high].reshape(-1, 2, tree.shape[1])
        np.add(children[:, 0], children[:, 1], out=tree[low:high])
        high = low
