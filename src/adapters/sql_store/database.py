"""Connecting to the configured database, and bringing its schema to the code's revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# An unreachable host must fail a request quickly, not hold it for the OS's TCP timeout.
CONNECT_TIMEOUT_SECONDS = 3


# The execution option that marks a connection as one that will write.
WRITES = "superbenchmark_writes"


# _alembic_loaded_late: Alembic is imported by the functions that use it, not with this module.
# Settings and the container import this module in every process, and Alembic alone adds about
# a third of a second to a DEBUG server's startup, which never migrates anything.


class DatabaseUrlError(ValueError):
    """The database URL names no database this service can use."""


def database_url(text: str) -> URL:
    """postgresql://... (driven by psycopg 3) or sqlite:///path; anything else is refused."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise DatabaseUrlError("expected postgresql://user@host:port/database or sqlite:///path") from None
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in {"psycopg", "psycopg2"}:
        return url.set(drivername="postgresql+psycopg")
    if (
        url.get_backend_name() == "sqlite"
        and url.get_driver_name() == "pysqlite"
        and url.database not in {None, "", ":memory:"}
    ):
        return url
    raise DatabaseUrlError(f"expected postgresql://... or sqlite:///path to a file, got a {url.drivername} URL")


def driver_reason(error: BaseException) -> str:
    """What a driver says went wrong, in one line (its messages run on with hints and context)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def connect(url: URL, pool_size: int = 8) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, pool_size=pool_size, max_overflow=0)
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "superbenchmark"},
    )
    event.listen(engine, "connect", _postgres_connected)
    return engine


def _postgres_connected(dbapi_connection: Any, _record: Any) -> None:
    # JIT compilation pays off for long analytic scans; here it fired on the cost estimates of
    # millisecond reads of summaries and added 8 to 180 ms to them. (Set here rather than in the
    # connection's options, which the URL's own options, such as a search_path, would lose.)
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


SQLITE_MAP_BYTES = 1 << 30


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun explicitly (below), so that writers take the lock when they begin
    # rather than fail when a read turns into a write; WAL lets readers go on meanwhile.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Statistics read megabytes of packed metrics per request. Through SQLite's small per-
    # connection page cache each page is a read() call and a copy; memory-mapped, a window of a
    # day reads in 5 ms instead of 37 ms (measured on 1,000,000 results). Address space, not memory.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MAP_BYTES}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the write lock up front; readers begin deferred and read a snapshot.
    writes = connection.get_execution_options().get(WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def schema_revision(connection: Connection) -> str | None:
    """The revision the database's schema is at; None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - imported late on purpose, see above

    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to the newest revision; the revisions before and after."""
    from alembic import command  # noqa: PLC0415 - imported late on purpose, see above
    from alembic.config import Config  # noqa: PLC0415 - imported late on purpose, see above

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        before = schema_revision(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return before, schema_revision(connection)
