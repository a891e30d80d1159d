"""Opening the SQL store that suits a database URL."""

from __future__ import annotations

from sqlalchemy.engine import URL

from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.database import DatabaseUrlError
from src.adapters.sql_store.postgres.store import PostgresResultStore
from src.adapters.sql_store.sqlite.store import SqliteResultStore

_STORES: dict[str, type[SqlStoreBase]] = {"postgresql": PostgresResultStore, "sqlite": SqliteResultStore}


def open_sql_store(url: URL) -> SqlStoreBase:
    """The store for `url` (as database_url returns it), opened as SqlStoreBase.open does: an
    unreachable database is only logged, one with the wrong schema raises SchemaMismatch.
    Raises DatabaseUrlError for a database that is neither PostgreSQL nor SQLite."""
    store = _STORES.get(url.get_backend_name())
    if store is None:
        raise DatabaseUrlError(f"no SQL store for a {url.get_backend_name()} database")
    return store.open(url)
