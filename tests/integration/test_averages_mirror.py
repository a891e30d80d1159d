"""PostgreSQL's window averages from each process's copy: the same answers as the database, and
never from a copy that a write (this process's, or another's, notified) has made stale."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import astuple
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.postgres import averages_mirror
from src.adapters.sql_store.postgres.averages_mirror import CHANNEL, QUIET_SECONDS
from src.adapters.sql_store.postgres.store import PostgresResultStore
from src.adapters.sql_store.stores import open_sql_store
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow
from src.domain.timestamps import parse_timestamp
from src.entrypoints.logs import NO_REQUEST, REQUEST_ID
from tests.databases import scratch_database

_START = parse_timestamp("2024-06-01T00:00:00Z")


def _results(prefix: str, count: int, seed: int, run: str | None = None) -> list[BenchmarkResult]:
    """Results over two days; some failed, some without TTFT or TPOT."""
    generator = random.Random(seed)
    made = []
    for index in range(count):
        total = round(generator.uniform(500, 9000), 3)
        made.append(
            BenchmarkResult(
                request_id=f"{prefix}{index}",
                token_count=generator.randint(1, 500),
                time_to_first_token=None if index % 7 == 0 else round(generator.uniform(20, 400), 3),
                time_per_output_token=None if index % 5 == 0 else round(generator.uniform(5, 50), 3),
                total_generation_time=total,
                timestamp=_START + timedelta(seconds=generator.randrange(2 * 86_400), microseconds=index),
                error="timeout" if index % 9 == 0 else None,
                labels={"run": run} if run else {},
            )
        )
    return made


def _windows(seed: int, count: int) -> list[TimeWindow | None]:
    generator = random.Random(seed)
    windows: list[TimeWindow | None] = [None]
    for _ in range(count):
        start = _START + timedelta(seconds=generator.uniform(-3_600, 2 * 86_400))
        windows.append(TimeWindow(start, start + timedelta(seconds=generator.uniform(0, 86_400))))
    return windows


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with scratch_database("postgresql", tmp_path) as url:
        yield url


def _store(url: str, mirrored: int) -> PostgresResultStore:
    store = open_sql_store(database_url(url), averages_mirror_results=mirrored)
    assert isinstance(store, PostgresResultStore)
    return store


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    """Ask until `condition` holds; each asking is a request that may start the copy's work."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def _same(found: ResultAggregate, expected: ResultAggregate) -> None:
    assert (found.count, found.failed) == (expected.count, expected.failed)
    for got, wanted in zip(astuple(found.summary()), astuple(expected.summary()), strict=True):
        assert got == (None if wanted is None else pytest.approx(wanted, rel=1e-12))


def test_a_current_copy_answers_every_window_as_the_database_does(database: str) -> None:
    store = _store(database, 1_000)
    store.add(_results("a", 600, seed=1))

    async def scenario() -> None:
        async def mirrored() -> bool:
            await store.aggregate_async()
            return store.averages_mirrored == 600

        await _until(mirrored)
        for window in _windows(seed=2, count=200):
            _same(await store.aggregate_async(window), store.aggregate(window))
        assert store.averages_mirrored == 600  # every answer above came from the copy
        await store.aclose()

    asyncio.run(scenario())


def test_a_write_of_its_own_or_of_another_process_is_seen_at_once_then_copied(database: str) -> None:
    reader, writer = _store(database, 10_000), _store(database, 0)
    reader.add(_results("a", 300, seed=3))

    async def scenario() -> None:
        async def mirrored(count: int) -> Callable[[], Awaitable[bool]]:
            async def holds() -> bool:
                await reader.aggregate_async()
                return reader.averages_mirrored == count

            return holds

        await _until(await mirrored(300))
        # Its own write: the copy is stale before the call returns.
        reader.add(_results("b", 50, seed=4))
        assert reader.averages_mirrored == 0
        assert (await reader.aggregate_async()).count + (await reader.aggregate_async()).failed == 350
        await _until(await mirrored(350))
        # Another process's write: stale as soon as its notification is read, well before a reload.
        writer.add(_results("c", 40, seed=5, run="c-run"))

        def notified(count: int) -> Callable[[], Awaitable[bool]]:
            async def seen() -> bool:
                answer = await reader.aggregate_async()
                return answer.count + answer.failed == count

            return seen

        await _until(notified(390), seconds=QUIET_SECONDS)
        assert reader.averages_mirrored == 0
        await _until(await mirrored(390))
        _same(await reader.aggregate_async(), reader.aggregate())
        # A run deleted by another process is notified too.
        assert writer.delete_run("c-run") == 40
        await _until(notified(350), seconds=QUIET_SECONDS)
        await reader.aclose()

    asyncio.run(scenario())
    writer.close()


def test_a_store_larger_than_the_setting_is_never_copied_nor_counted_again(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(database, 100)
    store.add(_results("a", 101, seed=6))
    loads: list[object] = []
    load = averages_mirror.load

    def counted(connection: psycopg.Connection[Any], max_results: int) -> object:
        loads.append(load(connection, max_results))
        return loads[-1]

    monkeypatch.setattr(averages_mirror, "load", counted)

    async def scenario() -> None:
        for _ in range(int(4 * QUIET_SECONDS / 0.02)):
            _same(await store.aggregate_async(), store.aggregate())
            await asyncio.sleep(0.02)
        assert store.averages_mirrored == 0
        # Counted once after the listening began, not on every request: nothing was written since.
        assert loads == [None]
        await store.aclose()

    asyncio.run(scenario())


def test_without_its_listening_connection_the_copy_answers_nothing_until_it_listens_again(database: str) -> None:
    # What the listener logs belongs to no request: not to the one that happened to start it.
    heard: list[str] = []

    def note_request_id(_record: logging.LogRecord) -> bool:
        heard.append(REQUEST_ID.get())
        return True

    listener_log = logging.getLogger(averages_mirror.__name__)
    level = listener_log.level
    listener_log.setLevel(logging.INFO)
    listener_log.addFilter(note_request_id)
    store, writer = _store(database, 1_000), _store(database, 0)
    store.add(_results("a", 200, seed=7))
    with psycopg.connect(database, autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE query = %s", (f"LISTEN {CHANNEL}",)).fetchall()
    listening_before = [pid for (pid,) in rows]

    async def scenario() -> None:
        async def mirrored() -> bool:
            await store.aggregate_async()
            return store.averages_mirrored > 0

        REQUEST_ID.set("a-request")
        await _until(mirrored)
        # Only this store's listener: the one of this database that was not listening before.
        with psycopg.connect(database, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query = %s AND datname = current_database() AND NOT pid = ANY(%s)",
                (f"LISTEN {CHANNEL}", listening_before),
            ).fetchall()
        assert ended == [(True,)]

        async def deaf() -> bool:
            await store.aggregate_async()
            return store.averages_mirrored == 0

        await _until(deaf)
        # Unheard, since nobody listens: the copy must not answer until it listens and reloads.
        writer.add(_results("b", 10, seed=8))
        answer = await store.aggregate_async()
        assert answer.count + answer.failed == 210
        await _until(mirrored)
        _same(await store.aggregate_async(), store.aggregate())
        assert store.averages_mirrored == 210
        await store.aclose()

    try:
        asyncio.run(scenario())
    finally:
        listener_log.removeFilter(note_request_id)
        listener_log.setLevel(level)
        writer.close()
    assert heard
    assert set(heard) == {NO_REQUEST}
