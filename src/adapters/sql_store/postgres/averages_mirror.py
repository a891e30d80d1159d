"""Window averages from memory: each serving process's copy of the results' instants and metrics,
kept current by PostgreSQL's notifications.

A round trip to the database costs more than the whole in-memory answer (a segment tree over the
results in time order, WindowIndex, as the JSON store keeps), so a process that holds at most
`max_results` results answers averages from its copy while the copy is known to be current, and
from the database otherwise:

- Every transaction that writes results (an insert or a run's deletion) sends NOTIFY on
  CHANNEL, which PostgreSQL delivers to every listening connection when it commits. Each process
  listens on a connection of its own; a notification, a write of its own, the listening
  connection opening or dropping each make the copy stale.
- A stale copy answers nothing: the database does, and the copy is loaded again once writes have
  paused for QUIET_SECONDS (an import's batches do not each cost a reload). A load that a write
  overtook is stale when it ends and is loaded again.
- A store larger than `max_results` results keeps no copy (memory stays bounded): the database
  answers every window, as it does with no copy.

What a process answers can lag a commit made through another process by the notification's
delivery (the time to read one message on an open connection); a process's own writes are seen at
once. Writes made to the table by anything but this service are not notified and not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from typing import Any

import numpy as np
import psycopg

from src.adapters.sql_store.postgres.binary_copy import decoded, row_type
from src.adapters.sql_store.schema import ROLLUP_WIDTHS
from src.adapters.window_index import WindowIndex
from src.domain.benchmark_result import STORED_METRICS
from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch

logger = logging.getLogger(__name__)

CHANNEL = "superbenchmark_results"
"""The notification channel every writing transaction signals on (a constant name)."""
NOTIFY = f"NOTIFY {CHANNEL}"
QUIET_SECONDS = 0.5
"""Seconds without a write before a stale copy is loaded again."""
RECONNECT_SECONDS = 2.0
"""Seconds between attempts to listen again after the listening connection failed."""

_TOTAL = (
    f"SELECT coalesce(sum(result_count + failed_count), 0) FROM result_rollups WHERE width_us = {ROLLUP_WIDTHS[-1]}"
)
# Every column is sent in 8 bytes (NaN where undefined) and the flag in 1, so every row of the
# binary COPY has one layout that numpy reads in place.
_COLUMNS = ", ".join(f"coalesce({name}::float8, 'NaN')" for name in STORED_METRICS)
_LOAD = f"COPY (SELECT recorded_at_us, {_COLUMNS}, error IS NOT NULL FROM results) TO STDOUT (FORMAT BINARY)"
_ROW = row_type([("at", ">i8"), *((name, ">f8") for name in STORED_METRICS), ("failed", "u1")])


class _Columns:
    """The loaded results as WindowIndex reads them."""

    def __init__(self, rows: np.ndarray[Any, np.dtype[Any]]) -> None:
        self.timestamps = rows["at"].astype(np.int64)
        self.metrics = tuple(rows[name].astype(np.float64) for name in STORED_METRICS)
        self.failed = rows["failed"].astype(bool)


def load(connection: psycopg.Connection[Any], max_results: int) -> WindowIndex | None:
    """Every stored result's instant, metrics and failure, indexed; None when the store holds more
    than `max_results` results (counted from the coarsest rollups, without reading a row)."""
    (total,) = connection.execute(_TOTAL).fetchone() or (0,)
    if total > max_results:
        return None
    data = bytearray()  # one buffer grown in place: joining blocks would hold the rows twice
    with connection.cursor().copy(_LOAD) as copy:
        for block in copy:
            data += block
    columns = _Columns(decoded(data, _ROW))
    del data
    return WindowIndex(columns)


class AveragesMirror:
    """One process's copy (see the module); `aggregate` answers from it or says it cannot.

    Driven from the event loop: `aggregate` starts the listening task on first use; `changed` may
    be called from any thread.
    """

    def __init__(self, conninfo: str, max_results: int, connect_timeout: int) -> None:
        self._conninfo = conninfo
        self._max_results = max_results
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._generation = 0
        """Counts what made the copy stale; a copy is current when loaded at the present count."""
        self._index: WindowIndex | None = None
        self._loaded_at = -1
        self._listening = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loading: asyncio.Task[None] | None = None

    @property
    def holds(self) -> int:
        """Results in the current copy; 0 when it is stale or absent."""
        index = self._current()
        return 0 if index is None else len(index.order)

    def changed(self) -> None:
        """Something may have been written: the copy is stale until loaded again."""
        with self._lock:
            self._generation += 1

    def aggregate(self, window: TimeWindow | None) -> ResultAggregate | None:
        """The window's averages from the copy, or None when the copy is stale or absent (and then
        a load is under way, or the store is too large to copy)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # First use, or a new event loop (the old one's tasks are gone): listen from scratch.
            self._loop, self._listening, self._loading = loop, False, None
            self.changed()
            # A context of their own: a request's (its id, for the logs) is not theirs.
            self._tasks = [loop.create_task(self._listen(), context=contextvars.Context())]
        index = self._current()
        if index is None:
            self._load_soon()
            return None
        if window is None:
            return index.aggregate_all()
        return index.aggregate_between(microseconds_since_epoch(window.start), microseconds_since_epoch(window.end))

    async def close(self) -> None:
        for task in [*self._tasks, *([self._loading] if self._loading else [])]:
            if task.get_loop() is not asyncio.get_running_loop():
                continue  # its loop has ended, and the task with it
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._loop = None

    def _current(self) -> WindowIndex | None:
        if not self._listening or self._loaded_at != self._generation:
            return None
        return self._index

    def _load_soon(self) -> None:
        # Loaded at the present count already means the store was too large to copy: not again
        # until something is written.
        loaded = self._loaded_at == self._generation
        if self._listening and not loaded and (self._loading is None or self._loading.done()):
            self._loading = asyncio.get_running_loop().create_task(self._load(), context=contextvars.Context())

    async def _load(self) -> None:
        # Wait for writes to pause: each batch of an import would otherwise cost a reload.
        while True:
            seen = self._generation
            await asyncio.sleep(QUIET_SECONDS)
            if self._generation == seen:
                break
        try:
            index = await asyncio.to_thread(self._read)
        except psycopg.Error as error:
            logger.warning("could not load the averages' copy; the database answers: %s", error)
            return
        with self._lock:
            # Stale already if a write came while loading: the next request loads again.
            self._index, self._loaded_at = index, seen

    def _read(self) -> WindowIndex | None:
        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._connect_timeout) as connection:
            return load(connection, self._max_results)

    async def _listen(self) -> None:
        """Listen on CHANNEL for as long as the process serves, connecting again after a failure."""
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
                )
                async with connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    # What was written before listening was never notified.
                    self.changed()
                    self._listening = True
                    async for _notification in connection.notifies():
                        self.changed()
            except psycopg.Error as error:
                logger.info("the averages' copy stopped listening; the database answers: %s", error)
            finally:
                self._listening = False
                self.changed()
            await asyncio.sleep(RECONNECT_SECONDS)
