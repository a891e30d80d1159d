"""JsonFileResultStore: the read-only DEBUG store over a result file, loaded once at startup."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from functools import cached_property
from itertools import groupby
from pathlib import Path

import numpy as np
import numpy.typing as npt

from src.adapters.column_statistics import sorted_columns, sorted_metric, summarize_columns
from src.adapters.json_store.result_file import (
    Record,
    ResultColumns,
    ResultFileError,
    as_result,
    read_result_file,
    read_result_records,
)
from src.adapters.window_index import WindowIndex
from src.application.ports.result_store import (
    AddOutcome,
    PageKey,
    ResultPage,
    ResultQuery,
    ResultStore,
    RunPage,
    RunQuery,
    SummaryKey,
    SummaryQuery,
)
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import StoreIsReadOnly, StoreUnavailable
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_selection import ResultFilter
from src.domain.runs import RunSummary, summarize_runs
from src.domain.statistics import ResultSummary
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch


class JsonFileResultStore(ResultStore):
    """Averages come from an index built at startup. Single results and pages come from the
    records, which are read again on first use: keeping them from startup would cost every
    server their memory, for questions a DEBUG session may never ask."""

    def __init__(self, path: Path, columns: ResultColumns) -> None:
        self._path = path
        self._digest = columns.digest
        self._index = WindowIndex(columns)

    @classmethod
    def load(cls, path: Path | str) -> JsonFileResultStore:
        """Read and validate the whole file, then index it; raises ResultFileError on any problem."""
        path = Path(path)
        return cls(path, read_result_file(path))

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        if window is None:
            return self._index.aggregate_all()
        return self._index.aggregate_between(
            microseconds_since_epoch(window.start), microseconds_since_epoch(window.end)
        )

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        first, past_last, kept = self._selected(query.selection)
        columns, failed = self._index.columns_between(first, past_last)
        groups, buckets = None, None
        if query.group_by is not None:
            models, labels = self._attributes
            key_among = query.group_by.key_among
            groups = list(map(key_among, models[first:past_last], labels[first:past_last]))
        if query.bucket_width is not None:
            buckets = np.asarray(self._index.timestamps[first:past_last]) // query.bucket_width
        if kept is not None:
            columns = columns[kept]
            failed = None if failed is None else failed[kept]
            groups = None if groups is None else [group for group, keep in zip(groups, kept, strict=True) if keep]
            buckets = None if buckets is None else buckets[kept]
        return summarize_columns(columns, query.percentiles, query.objective, groups, buckets, failed=failed)

    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        first, past_last, kept = self._selected(selection)
        columns, failed = self._index.columns_between(first, past_last)
        if kept is not None:
            columns = columns[kept]
            failed = None if failed is None else failed[kept]
        return sorted_columns(columns, failed=failed)

    def metric_values(self, selection: ResultFilter, metric: str) -> tuple[list[float], int]:
        first, past_last, kept = self._selected(selection)
        columns, failed = self._index.columns_between(first, past_last)
        if kept is not None:
            columns = columns[kept]
            failed = None if failed is None else failed[kept]
        return sorted_metric(columns, metric, failed=failed)

    def _selected(self, selection: ResultFilter) -> tuple[int, int, npt.NDArray[np.bool_] | None]:
        """The time-order positions of the selection's window, and, when it also filters by model
        or labels, which of them it keeps (None keeps all)."""
        first, past_last = self._window_positions(selection.window)
        if selection.model is None and not selection.labels:
            return first, past_last, None
        models, labels = self._attributes
        admitted = map(selection.admits, models[first:past_last], labels[first:past_last])
        return first, past_last, np.fromiter(admitted, dtype=bool, count=past_last - first)

    def _window_positions(self, window: TimeWindow | None) -> tuple[int, int]:
        """Time-order positions [first, past_last) of the results in the window (all if None)."""
        if window is None:
            return 0, len(self._index.order)
        return self._index.positions_between(
            microseconds_since_epoch(window.start), microseconds_since_epoch(window.end)
        )

    def get(self, request_id: str) -> BenchmarkResult | None:
        position = self._positions_by_id.get(request_id)
        return None if position is None else as_result(self._records[position])

    def page(self, query: ResultQuery) -> ResultPage:
        order = self._listing
        # Listing order differs from the index's only among equal timestamps, so a window's
        # positions are the same in both.
        first, past_last = self._window_positions(query.window)
        selection = query.selection
        if query.after is not None:
            first = max(first, self._position_after(query.after))
        found: list[BenchmarkResult] = []
        for position in order[first:past_last]:
            result = as_result(self._records[position])
            if not selection.admits(result.model, result.labels):
                continue
            if len(found) == query.limit:
                return ResultPage(found, PageKey.of(found[-1]))
            found.append(result)
        return ResultPage(found, None)

    def add(self, results: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        raise StoreIsReadOnly()

    def runs(self, query: RunQuery) -> RunPage:
        selection = query.selection
        if selection.model is None and not selection.labels:
            return RunPage.of(self._all_runs, query)
        chosen = (result for result in map(as_result, self._records) if selection.admits(result.model, result.labels))
        return RunPage.of(summarize_runs(chosen), query)

    def delete_run(self, run: str) -> int:
        raise StoreIsReadOnly()

    def check(self) -> None:
        """The file was read whole at startup; nothing can go away."""

    # Records, lookups by id and listings are built on first use: startup time and memory stay those of averages.
    @cached_property
    def _records(self) -> Sequence[Record]:
        # The index was built from the file as it was at startup; the records must be the same ones.
        # Size and modification time cannot tell (cp -p, rsync -t and tar restore them), the bytes can.
        try:
            return read_result_records(self._path, self._digest)
        except ResultFileError as error:
            raise StoreUnavailable(str(error)) from None

    @cached_property
    def _all_runs(self) -> list[RunSummary]:
        """Every run of the file, newest first: the file never changes under a server."""
        return summarize_runs(map(as_result, self._records))

    @cached_property
    def _positions_by_id(self) -> dict[str, int]:
        return {record.request_id: position for position, record in enumerate(self._records)}

    @cached_property
    def _listing(self) -> list[int]:
        """File positions in (timestamp, request_id) order; the index's timestamps are in that order too."""
        # The index already holds the time order; only ties in time, which are rare, are put in
        # request_id order here.
        order: list[int] = []
        records = self._records
        in_time_order = zip(self._index.timestamps.tolist(), self._index.order.tolist(), strict=True)
        for _, tied in groupby(in_time_order, key=lambda pair: pair[0]):
            positions = [position for _, position in tied]
            if len(positions) > 1:
                positions.sort(key=lambda position: records[position].request_id)
            order.extend(positions)
        return order

    @cached_property
    def _attributes(self) -> tuple[list[str | None], list[Mapping[str, str] | None]]:
        """Every result's model and labels, in time order: what filters and groups read."""
        records = self._records
        in_time_order = [records[position] for position in self._index.order.tolist()]
        return [record.model for record in in_time_order], [record.labels or None for record in in_time_order]

    def _position_after(self, key: PageKey) -> int:
        order, timestamps = self._listing, self._index.timestamps
        stamp = microseconds_since_epoch(key.timestamp)
        position = bisect_left(timestamps, stamp)
        records = self._records
        while (
            position < len(order)
            and timestamps[position] == stamp
            and records[order[position]].request_id <= key.request_id
        ):
            position += 1
        return position
