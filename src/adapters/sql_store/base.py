"""SqlStoreBase: what the PostgreSQL and SQLite stores share, averages answered from rollups in the database.

Blocking calls: the HTTP layer runs them off the event loop. Every database failure that may
pass (unreachable server, restart, schema behind the code) becomes StoreUnavailable, and the
next call tries again on a fresh connection. Each database's store (postgres/, sqlite/) adds how
it stores a batch and how it summarises.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar, Self, TypeVar

from sqlalchemy import Connection, Engine, literal, select, text, tuple_
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError

from src.adapters.column_statistics import sorted_columns
from src.adapters.sql_store.database import WRITES, connect, driver_reason, schema_revision
from src.adapters.sql_store.rollups import add_to_rollups, whole_buckets
from src.adapters.sql_store.rows import as_result
from src.adapters.sql_store.schema import ROLLUP_WIDTHS, SCHEMA_REVISION, result_rollups, results
from src.adapters.sql_store.selection import LabelIs, Selected, conditions, row_columns_statement, split_rows
from src.adapters.sql_store.window_sums import window_aggregate, window_parameters, window_sums_statement
from src.application.ports.result_store import (
    AddOutcome,
    PageKey,
    ResultPage,
    ResultQuery,
    ResultStore,
    RunPage,
    RunQuery,
)
from src.domain.benchmark_result import BenchmarkResult, storable_text
from src.domain.errors import ResultConflict, StoreUnavailable
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.runs import RUN_LABEL, summarize_runs
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Concurrent writers of overlapping batches can collide on a request_id or deadlock on a
# rollup row; the loser's transaction is rolled back whole and simply runs again.
_WRITE_ATTEMPTS = 8
# Postgres SQLSTATE classes a retry resolves: 40 = transaction rollback (deadlock, serialization).
_RETRYABLE_STATES = ("40",)


class SchemaMismatch(StoreUnavailable):
    """The database is reachable but its schema is not at the code's revision."""

    def __init__(self, found: str | None) -> None:
        self.found = found
        super().__init__(
            f"its schema is at revision {found or 'none (never migrated)'}, this version needs "
            f"{SCHEMA_REVISION}: run `make migrate` against it"
        )


class SqlStoreBase(ResultStore):
    """A ResultStore on a migrated SQL database, through an SQLAlchemy engine.

    Subclasses say how their database stores a batch (`_add`), reads a label (`_label_value`),
    finds a run's results (`_RUN_CONDITION`) and summarises (`summarize`, `metric_values`).
    Every method raises StoreUnavailable when the database cannot answer, SchemaMismatch (one)
    when its schema is at another revision.
    """

    _READ_OPTIONS: ClassVar[dict[str, Any]] = {}
    """Execution options of a connection that only reads."""
    _RUN_CONDITION: ClassVar[str]
    """Raw SQL true for the results labelled with the bound run `:run`, of the table named `{r}`."""
    _ROLLUP_PART: ClassVar[str | None] = None
    """SQL numbering the rollup rows a transaction appends, where the rollups are kept in parts
    (PostgreSQL); None: a row per bucket, added to in place (SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._schema_checked = False
        self._window_sums = window_sums_statement()

    @classmethod
    def open(cls, url: URL, **options: Any) -> Self:
        """A store on `url` (`options` go to the class). An unreachable database is only logged:
        the server starts and waits for it; a reachable one with the wrong schema raises SchemaMismatch."""
        store = cls(connect(url), **options)
        try:
            store.check()
        except SchemaMismatch:
            raise
        except StoreUnavailable as error:
            # Named by host, port and database (never user or password): with a read replica two
            # stores open, and "the database" alone made an unreachable replica read as the primary.
            where = f"{url.host or 'local'}:{url.port or 'default port'}/{url.database}"
            logger.warning("starting without the database at %s, retried on each request: %s", where, error)
        return store

    def pool_in_use(self) -> int:
        """Pooled connections checked out now (a gauge for the service's metrics)."""
        return int(self._engine.pool.checkedout())  # type: ignore[attr-defined]

    def close(self) -> None:
        """Close the pooled connections; a later call opens new ones."""
        self._engine.dispose()

    async def aclose(self) -> None:
        self.close()

    def check(self) -> None:
        self._read(lambda connection: connection.execute(text("SELECT 1")))

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        parameters = window_parameters(window)
        row = self._read(lambda connection: connection.execute(self._window_sums, parameters).one())
        return window_aggregate(row)

    async def aggregate_async(self, window: TimeWindow | None = None) -> ResultAggregate:
        # The driver blocks, so the query works on a thread (PostgreSQL's store overrides this).
        return await asyncio.to_thread(self.aggregate, window)

    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        selected = self._columns(selection, None, None)
        return sorted_columns(selected.columns, failed=selected.failed)

    def _columns(self, selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None) -> Selected:
        """The selected results' metrics, with each one's group and bucket when asked for."""
        return self._row_columns(selection, group_by, bucket_width)

    def _row_columns(self, selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None) -> Selected:
        statement = row_columns_statement(selection, group_by, bucket_width, self._label_value, self._label_is)
        # Straight from the driver's cursor: a window's rows are many, and SQLAlchemy's Row
        # objects would more than double the time spent handing them over.
        rows = self._read(lambda connection: list(connection.execute(statement).cursor.fetchall()))
        return split_rows(rows, grouped=group_by is not None, bucketed=bucket_width is not None)

    @abstractmethod
    def _label_value(self, key: str) -> Any:
        """The value of label `key` as text, NULL when the result has no such label."""

    _label_is: LabelIs | None = None
    """How a filter by label is written, when not as a comparison of `_label_value`."""

    def get(self, request_id: str) -> BenchmarkResult | None:
        if not storable_text(request_id):
            return None  # no stored id holds it, and PostgreSQL would refuse it as a parameter
        statement = select(results).where(results.c.request_id == request_id)
        row = self._read(lambda connection: connection.execute(statement).first())
        return None if row is None else as_result(row)

    def page(self, query: ResultQuery) -> ResultPage:
        at = results.c.recorded_at_us
        statement = (
            select(results)
            .where(*conditions(query.selection, self._label_value, self._label_is))
            .order_by(at, results.c.request_id)
            .limit(query.limit + 1)
        )
        if query.after is not None:
            after = (microseconds_since_epoch(query.after.timestamp), query.after.request_id)
            statement = statement.where(tuple_(at, results.c.request_id) > tuple_(*map(literal, after)))
        found = [as_result(row) for row in self._read(lambda connection: connection.execute(statement).all())]
        if len(found) > query.limit:
            return ResultPage(found[: query.limit], PageKey.of(found[query.limit - 1]))
        return ResultPage(found, None)

    def add(self, batch: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        if not batch:
            return AddOutcome(0, 0)
        # One order for every writer: overlapping batches then lock rows in the same order.
        ordered = sorted(batch, key=lambda result: result.request_id)
        return self._add_batch(lambda connection: self._add(connection, ordered), all_or_nothing=all_or_nothing)

    def _add_batch(self, add: Callable[[Connection], AddOutcome], *, all_or_nothing: bool) -> AddOutcome:
        """`add` (one of the _add methods, on a batch in request_id order) in a write transaction;
        with `all_or_nothing`, a conflict rolls it back whole and raises ResultConflict."""

        def adding(connection: Connection) -> AddOutcome:
            outcome = add(connection)
            if outcome.conflicting and all_or_nothing:
                # Raised inside the transaction, so that it rolls back whole.
                raise ResultConflict(list(outcome.conflicting))
            return outcome

        return self._write(adding, "store the batch")

    @abstractmethod
    def _add(self, connection: Connection, batch: list[BenchmarkResult]) -> AddOutcome:
        """Store the batch's new results (in request_id order) and add them to the rollups, in the
        caller's transaction; how many were new and already stored, and the clashing ids.
        May raise IntegrityError when a concurrent writer stored one of them meanwhile."""

    def runs(self, query: RunQuery) -> RunPage:
        # The selected results that name a run, summarised as the domain does.
        selection = replace(query.selection, window=None)
        run_label = self._label_value(RUN_LABEL)
        statement = select(results).where(
            *conditions(selection, self._label_value, self._label_is), run_label.is_not(None)
        )
        rows = self._read(lambda connection: connection.execute(statement).all())
        return RunPage.of(summarize_runs(map(as_result, rows)), query)

    def delete_run(self, run: str) -> int:
        if not storable_text(run):
            return 0  # no stored label holds it, and PostgreSQL would refuse it as a parameter
        return self._write(lambda connection: self._delete_run(connection, run), "delete the run")

    def _write(self, work: Callable[[Connection], T], doing: str) -> T:
        """`work` in one transaction, run again whole (up to _WRITE_ATTEMPTS times) when it
        collided with a concurrent writer: an IntegrityError (another writer stored one of its
        ids after it looked) or a rollback the database chose (deadlock, serialization). Run once
        more, too, when its connection turned out dropped before the work was done (a pooled
        connection the database ended): the server rolled that transaction back, so nothing
        happens twice. A connection lost at the commit leaves the outcome unknown: not retried.
        Then, however it ended, `_written`. Raises StoreUnavailable naming what it tried to
        `doing` when every attempt collided."""
        try:
            return self._attempts(work, doing)
        finally:
            self._written()

    def _written(self) -> None:
        """After every write, committed or not (a hook; nothing by default)."""

    def _attempts(self, work: Callable[[Connection], T], doing: str) -> T:
        """_write's attempts (see there)."""
        reconnected = False
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            done = False
            try:
                with self._writing() as connection:
                    answer = work(connection)
                    done = True  # only the commit is left
                    return answer
            except IntegrityError as error:
                if not _duplicate_key(error):
                    # Another rule refused it (a NOT NULL column this version does not know, as
                    # when a server of an older version writes after a migration): no retry helps.
                    raise StoreUnavailable(f"the database refused to {doing}: {error.orig}") from error
                logger.info("write attempt %d collided with a concurrent writer; retrying", attempt)
            except StoreUnavailable as error:
                if done or reconnected or not _dropped_connection(error.__cause__):
                    raise
                reconnected = True
                logger.info("write attempt %d met a dropped connection before committing; retrying", attempt)
            except DBAPIError as error:
                if not _retryable(error):
                    raise
                logger.info("write attempt %d was rolled back by the database (%s); retrying", attempt, error.orig)
        raise StoreUnavailable(f"{_WRITE_ATTEMPTS} attempts to {doing} collided with concurrent writers")

    def _delete_run(self, connection: Connection, run: str) -> int:
        """Delete the run's results and sum the rollup buckets they were in anew (see
        _rebuild_rollups and _deleted)."""
        removed, first, last = self._take_out(connection, self._RUN_CONDITION, {"run": run})
        if not removed:
            return 0
        self._rebuild_rollups(connection, first, last + 1)
        self._deleted(connection, first, last)
        return removed

    def _take_out(self, connection: Connection, condition: str, parameters: dict[str, Any]) -> tuple[int, int, int]:
        """Delete the results meeting `condition` (of the table named `{r}`); how many there were,
        and the first and last instant among them (0, 0, 0 for none). As two statements, which is
        exact where one writer at a time holds the database (SQLite)."""
        span = text(
            f"SELECT min(r.recorded_at_us), max(r.recorded_at_us) FROM results r WHERE {condition.format(r='r')}"
        )
        first, last = connection.execute(span, parameters).one()
        if first is None:
            return 0, 0, 0
        removed = connection.execute(text(f"DELETE FROM results WHERE {condition.format(r='results')}"), parameters)
        return int(removed.rowcount), first, last

    def _rebuild_rollups(self, connection: Connection, low: int, high: int) -> None:
        """Every rollup bucket within the coarsest buckets touching [low, high) microseconds,
        summed anew from the results that remain (in the caller's transaction, after a deletion).
        Taking the deleted results' sums out instead let a large sum cancel against the small ones
        left beside it: a deleted 1e12 ms beside three results of 0.001 ms left their average 2%
        off. Rebuilt, a bucket's sums only ever add the non-negative values it holds."""
        # Each width divides the coarsest, so every bucket of every width starting in the
        # coarsest buckets lies inside them.
        low, high = whole_buckets(low, high, ROLLUP_WIDTHS[-1])
        starts = result_rollups.c.bucket_start_us
        connection.execute(result_rollups.delete().where(starts >= low, starts < high))
        within = "r.recorded_at_us >= :low AND r.recorded_at_us < :high"
        summed = add_to_rollups("results", within, ROLLUP_WIDTHS, part=self._ROLLUP_PART)
        connection.execute(text(summed), {"low": low, "high": high})

    def _deleted(self, connection: Connection, first_us: int, last_us: int) -> None:
        """After a run's results, recorded from `first_us` to `last_us`, were deleted: bring what
        else the database keeps about them up to date. Nothing by default."""

    def _read(self, work: Callable[[Connection], T]) -> T:
        """`work` on a pooled connection, outside any transaction: one statement needs none.

        Connections are not pinged before use, which would cost a round trip per request. When
        the database has restarted, the first use of an old connection fails, SQLAlchemy drops
        the whole pool, and the read runs once more on a new connection. A read the database
        cancelled (a hot standby replaying a change that conflicts with it, SQLSTATE 40001) runs
        once more too, and a second cancellation makes the store unavailable for it, which a
        replicated store answers from the primary.
        """
        for attempt in (1, 2):
            try:
                with self._available(), self._engine.connect().execution_options(**self._READ_OPTIONS) as connection:
                    self._check_schema(connection)
                    return work(connection)
            except StoreUnavailable as error:
                if attempt == 2 or not _dropped_connection(error.__cause__):
                    raise
            except DBAPIError as error:
                if not _retryable(error):
                    raise
                if attempt == 2:
                    raise StoreUnavailable(
                        f"the read was cancelled twice: {driver_reason(error.orig or error)}"
                    ) from error
        raise AssertionError("unreachable")

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with (
            self._available(),
            self._engine.connect().execution_options(**{WRITES: True}) as connection,
            connection.begin(),
        ):
            self._check_schema(connection)
            yield connection

    def _check_schema(self, connection: Connection) -> None:
        if self._schema_checked:
            return
        found = schema_revision(connection)
        if found != SCHEMA_REVISION:
            raise SchemaMismatch(found)
        self._schema_checked = True

    @contextmanager
    def _available(self) -> Iterator[None]:
        try:
            yield
        except (IntegrityError, StoreUnavailable):
            raise
        except DBAPIError as error:
            if _retryable(error) or not _is_outage(error):
                raise
            raise StoreUnavailable(driver_reason(error.orig or error)) from error


def _dropped_connection(cause: BaseException | None) -> bool:
    return isinstance(cause, DBAPIError) and cause.connection_invalidated


def _is_outage(error: DBAPIError) -> bool:
    # OperationalError: cannot connect, connection lost, server shutting down, locked, no such table.
    # InterfaceError: a connection already closed underneath us.
    return error.connection_invalidated or type(error).__name__ in {"OperationalError", "InterfaceError"}


def _duplicate_key(error: IntegrityError) -> bool:
    """Whether the database refused a row for a key already stored (a concurrent writer's), not
    for another rule: PostgreSQL's unique_violation (SQLSTATE 23505), SQLite's primary key or
    unique constraint."""
    state = getattr(error.orig, "sqlstate", None)
    if state is not None:
        return bool(state == "23505")
    return getattr(error.orig, "sqlite_errorname", "") in {"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"}


def _retryable(error: DBAPIError) -> bool:
    state = getattr(error.orig, "sqlstate", None) or ""
    return state.startswith(_RETRYABLE_STATES)
