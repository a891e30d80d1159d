"""The port every result store implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow


class ResultStore(ABC):
    """Where benchmark results are kept.

    A store answers with an aggregate, not with results, so that it can compute it where the
    data lives (an index, a database) instead of handing every result to Python.
    """

    @abstractmethod
    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        """The aggregate of every result whose timestamp lies in `window` (all results if None)."""
