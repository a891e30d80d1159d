"""A few PostgreSQL connections for coroutines: the window averages run on the event loop, no thread.

Kept deliberately small instead of a pooling library: a connection is opened when none is idle
(so a database that is down fails the request at once, with the driver's reason); when one is
found dropped, every idle one is discarded and the query runs once more on a new connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from src.adapters.sql_store.database import driver_reason
from src.domain.errors import StoreUnavailable


class AsyncConnections:
    """At most `size` autocommit connections to the database `conninfo` names, each opened within
    `connect_timeout` seconds. Failures to connect or dropped connections raise StoreUnavailable."""

    def __init__(self, conninfo: str, size: int, connect_timeout: int) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)
        self._busy = 0

    @property
    def in_use(self) -> int:
        """Connections running a query now."""
        return self._busy

    async def fetch_one(self, query: str, parameters: dict[str, Any]) -> tuple[Any, ...]:
        """The first row of `query`, run as a prepared statement outside any transaction."""
        async with self._slots:
            self._busy += 1
            try:
                return await self._fetch_one(query, parameters)
            finally:
                self._busy -= 1

    async def _fetch_one(self, query: str, parameters: dict[str, Any]) -> tuple[Any, ...]:
        """fetch_one's work, holding a slot."""
        for attempt in (1, 2):
            # The second attempt always opens a new connection: after a restart, or backends
            # ended by an administrator, every idle connection is as dead as the first one was.
            connection = self._idle.pop() if self._idle and attempt == 1 else None
            try:
                if connection is None:
                    connection = await self._connect()
                cursor = await connection.execute(query, parameters, prepare=True)
                row = await cursor.fetchone()
            except psycopg.OperationalError as error:
                if connection is not None:
                    await connection.close()
                if attempt == 2 or connection is None:
                    raise StoreUnavailable(driver_reason(error)) from error
                await self._discard_idle()
                continue
            self._idle.append(connection)
            assert row is not None, "an aggregate query always returns a row"
            return tuple(row)
        raise AssertionError("unreachable")

    async def _discard_idle(self) -> None:
        """Close the idle connections: one was found dropped, so the others likely are too."""
        while self._idle:
            await self._idle.pop().close()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        connection = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
        )
        # The window query has one shape whatever the window: a plan made once serves every call.
        # Left to choose, PostgreSQL re-plans it on each call, which costs more than running it.
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        return connection

    async def close(self) -> None:
        await self._discard_idle()
