"""BackgroundCompaction: runs on a thread of its own, one at a time, asks coalesced while one waits."""

from __future__ import annotations

import threading

from src.adapters.sql_store.postgres.background_compaction import BackgroundCompaction


class _Gated:
    """A compaction that records each run's thread and waits, on its first run, until released."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.runs.append(threading.current_thread().name)
        self.started.set()
        assert self.release.wait(10)


def test_an_ask_returns_before_the_run_which_goes_on_its_own_thread() -> None:
    work = _Gated()
    compaction = BackgroundCompaction(work)
    compaction.ask()
    assert work.started.wait(10)
    assert work.runs
    assert work.runs[0] != threading.current_thread().name
    work.release.set()
    compaction.wait()
    assert len(work.runs) == 1
    compaction.close()


def test_asks_while_one_runs_queue_one_more_run_and_no_more() -> None:
    work = _Gated()
    compaction = BackgroundCompaction(work)
    compaction.ask()
    assert work.started.wait(10)
    # Parts appended after the running one looked are left to the next: three asks, one more run.
    for _ in range(3):
        compaction.ask()
    work.release.set()
    compaction.wait()
    assert len(work.runs) == 2
    compaction.close()


def test_close_waits_for_the_running_and_queued_runs_and_a_later_ask_starts_again() -> None:
    work = _Gated()
    compaction = BackgroundCompaction(work)
    compaction.ask()
    assert work.started.wait(10)
    compaction.ask()
    closing = threading.Thread(target=compaction.close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive()  # held by the running compaction
    work.release.set()
    closing.join(10)
    assert not closing.is_alive()
    assert len(work.runs) == 2
    compaction.ask()
    compaction.wait()
    assert len(work.runs) == 3
    compaction.close()


def test_waiting_with_nothing_asked_returns_at_once() -> None:
    compaction = BackgroundCompaction(lambda: None)
    compaction.wait()
    compaction.close()
