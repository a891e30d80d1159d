"""Opening the SQL store that suits a database URL."""

from __future__ import annotations

from sqlalchemy.engine import URL

from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.database import DatabaseUrlError
from src.adapters.sql_store.postgres.store import (
    DEFAULT_AVERAGES_MIRROR_RESULTS,
    DEFAULT_EXACT_PERCENTILE_RESULTS,
    PostgresResultStore,
)
from src.adapters.sql_store.sqlite.store import SqliteResultStore


def open_sql_store(
    url: URL,
    *,
    exact_percentile_results: int = DEFAULT_EXACT_PERCENTILE_RESULTS,
    averages_mirror_results: int = DEFAULT_AVERAGES_MIRROR_RESULTS,
) -> SqlStoreBase:
    """The store for `url` (as database_url returns it), opened as SqlStoreBase.open does: an
    unreachable database is only logged, one with the wrong schema raises SchemaMismatch.
    `exact_percentile_results` and `averages_mirror_results` are PostgreSQL's (SQLite's
    percentiles are always exact, and it answers averages from its own file).
    Raises DatabaseUrlError for a database that is neither PostgreSQL nor SQLite."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        return PostgresResultStore.open(
            url, exact_percentile_results=exact_percentile_results, averages_mirror_results=averages_mirror_results
        )
    if backend == "sqlite":
        return SqliteResultStore.open(url)
    raise DatabaseUrlError(f"no SQL store for a {backend} database")
