"""JsonFileResultStore: the read-only DEBUG store over a result file, loaded once at startup."""

from __future__ import annotations

from pathlib import Path

from src.adapters.json_store.result_file import read_result_file
from src.adapters.json_store.window_index import WindowIndex
from src.application.ports.result_store import ResultStore
from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch


class JsonFileResultStore(ResultStore):
    def __init__(self, index: WindowIndex) -> None:
        self._index = index

    @classmethod
    def load(cls, path: Path | str) -> JsonFileResultStore:
        """Read and validate the whole file, then index it; raises ResultFileError on any problem."""
        return cls(WindowIndex(read_result_file(Path(path))))

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        if window is None:
            return self._index.aggregate_all()
        return self._index.aggregate_between(
            microseconds_since_epoch(window.start), microseconds_since_epoch(window.end)
        )
