"""BackgroundCompaction: the summaries' parts merged on a thread of the store's own, after the
writes that asked for it have answered.

Readers merge a bucket's parts themselves, so answers are the same before and after a compaction:
it only makes later reads cheaper. An import therefore answers once its results are stored, and
its parts are merged behind it (ClickHouse's merges of MergeTree parts run the same way, behind
the inserts that made them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class BackgroundCompaction:
    """Runs `compact` (which handles its own failures) on one thread, one run at a time, when asked.

    Asks made while a run waits to start are served by that run; an ask while one runs queues one
    more, since parts appended after a run has looked for crowded buckets are left to the next.
    The thread starts at the first ask; `close` ends it, and a later ask starts another.
    """

    def __init__(self, compact: Callable[[], None]) -> None:
        self._compact = compact
        self._guard = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._last: Future[None] | None = None

    def ask(self) -> None:
        """Have the parts merged soon, without waiting for it."""
        with self._guard:
            last = self._last
            if last is not None and not last.running() and not last.done():
                return  # a run that has not started yet sees everything committed before it
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="summary-compaction")
            self._last = self._executor.submit(self._compact)

    def wait(self) -> None:
        """Return once every run asked for so far has ended (runs go one after another, in order)."""
        with self._guard:
            last = self._last
        if last is not None:
            last.result()

    def close(self) -> None:
        """Wait for the running and queued runs (the database is left merged), then end the thread."""
        with self._guard:
            executor, self._executor, self._last = self._executor, None, None
        if executor is not None:
            executor.shutdown(wait=True)
