"""SqlResultStore: results in PostgreSQL or SQLite, averages answered from rollups in the database.

Blocking calls: the HTTP layer runs them off the event loop. Every database failure that may
pass (unreachable server, restart, schema behind the code) becomes StoreUnavailable, and the
next call tries again on a fresh connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Row,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from src.adapters.column_statistics import sorted_columns, sorted_metric, summarize_columns
from src.adapters.sql_store.async_connections import AsyncConnections
from src.adapters.sql_store.database import (
    CONNECT_TIMEOUT_SECONDS,
    WRITES,
    connect,
    driver_reason,
    schema_revision,
)
from src.adapters.sql_store.postgres_ingest import add_rows
from src.adapters.sql_store.rollups import add_to_rollups, split_window
from src.adapters.sql_store.schema import (
    ROLLUP_WIDTHS,
    SCHEMA_REVISION,
    result_packs,
    result_rollups,
    results,
)
from src.adapters.sql_store.statistics import (
    ADD_TO_PACKS,
    Selected,
    conditions,
    group_count_statement,
    label_value,
    metric_columns,
    metric_columns_statement,
    packed_columns,
    packs,
    row_columns_statement,
    split_rows,
    summary_row,
    summary_statement,
)
from src.application.ports.result_store import (
    AddOutcome,
    PageKey,
    ResultPage,
    ResultQuery,
    ResultStore,
    RunPage,
    RunQuery,
    SummaryKey,
    SummaryQuery,
)
from src.domain.benchmark_result import METRICS, BenchmarkResult, storable_text
from src.domain.errors import ResultConflict, StoreUnavailable
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.runs import RUN_LABEL, summarize_runs
from src.domain.statistics import (
    MAX_GROUPS,
    ResultSummary,
    refuse_oversized_answer,
)
from src.domain.time_window import TimeWindow
from src.domain.timestamps import microseconds_since_epoch

logger = logging.getLogger(__name__)
T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every instant of the years 1 to 9999 lies inside, and both ends are whole buckets of every width.
_ALL_TIME = (-(ROLLUP_WIDTHS[-1] * 10**5), ROLLUP_WIDTHS[-1] * 10**5)
# Concurrent writers of overlapping batches can collide on a request_id or deadlock on a
# rollup row; the loser's transaction is rolled back whole and simply runs again.
_WRITE_ATTEMPTS = 8
# Postgres SQLSTATE classes a retry resolves: 40 = transaction rollback (deadlock, serialization).
_RETRYABLE_STATES = ("40",)


# The averaged metrics a success may lack; it always has the others (see _aggregate).
_SOMETIMES_UNDEFINED = ("time_to_first_token", "time_per_output_token")
# A run's results, by their `run` label (PostgreSQL: True; SQLite: False), for raw SQL on `results r`.
_RUN_CONDITION = {
    True: f"{{r}}.labels ->> '{RUN_LABEL}' = :run",
    False: f"json_extract({{r}}.labels, '$.{RUN_LABEL}') = :run",
}
_MINUTE = ROLLUP_WIDTHS[0]
_ROWS_WITH_IDS = select(results).where(results.c.request_id.in_(bindparam("ids", expanding=True)))
_ADD_IDS_TO_ROLLUPS = text(add_to_rollups("results", "r.request_id IN :ids", ROLLUP_WIDTHS)).bindparams(
    bindparam("ids", expanding=True)
)


class SchemaMismatch(StoreUnavailable):
    """The database is reachable but its schema is not at the code's revision."""

    def __init__(self, found: str | None) -> None:
        self.found = found
        super().__init__(
            f"its schema is at revision {found or 'none (never migrated)'}, this version needs "
            f"{SCHEMA_REVISION}: run `make migrate` against it"
        )


class SqlResultStore(ResultStore):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._schema_checked = False
        self._postgres = engine.dialect.name == "postgresql"
        self._window_sums = _window_sums_statement()
        self._connections = (
            AsyncConnections(_conninfo(engine.url), engine.pool.size(), CONNECT_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
            if self._postgres
            else None
        )
        compiled = self._window_sums.compile(dialect=engine.dialect)
        self._window_sums_sql = str(compiled)
        self._window_sums_defaults = dict(compiled.params)

    @classmethod
    def open(cls, url: URL) -> SqlResultStore:
        """A store on `url`. An unreachable database is only logged: the server starts and waits for it;
        a reachable one with the wrong schema raises SchemaMismatch."""
        store = cls(connect(url))
        try:
            store.check()
        except SchemaMismatch:
            raise
        except StoreUnavailable as error:
            logger.warning("starting without the database, which will be retried on each request: %s", error)
        return store

    def close(self) -> None:
        self._engine.dispose()

    def check(self) -> None:
        self._read(lambda connection: connection.execute(text("SELECT 1")))

    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        parameters = _window_parameters(window)
        row = self._read(lambda connection: connection.execute(self._window_sums, parameters).one())
        return _aggregate(row)

    async def aggregate_async(self, window: TimeWindow | None = None) -> ResultAggregate:
        if self._connections is None:
            # SQLite answers in-process; its driver blocks, so it works on a thread.
            return await asyncio.to_thread(self.aggregate, window)
        if not self._schema_checked:
            await asyncio.to_thread(self._read, lambda _connection: None)
        # Straight to psycopg, without SQLAlchemy's per-execution work: this is the busiest query.
        parameters = self._window_sums_defaults | _window_parameters(window)
        return _aggregate(await self._connections.fetch_one(self._window_sums_sql, parameters))

    async def aclose(self) -> None:
        if self._connections is not None:
            await self._connections.close()
        self.close()

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        if self._postgres:
            if query.group_by is not None:
                # Refused before the work: a summary statement over 100,000 groups costs PostgreSQL
                # seconds (a sort per group and metric) only to be refused; counting costs a scan.
                counting = group_count_statement(query.selection, query.group_by, MAX_GROUPS + 1)
                refuse_oversized_answer(self._read(lambda connection: connection.execute(counting).scalar_one()), 0)
            statement = summary_statement(query)
            summaries = self._read(lambda connection: connection.execute(statement).all())
            refuse_oversized_answer(len({row.group_key for row in summaries}), len(summaries))
            # Without GROUP BY, no result still gives one row, of counts 0. A group or bucket of
            # failures only is an answer: its failed count and no metric.
            return dict(summary_row(row, query) for row in summaries if row.result_count or row.failed_count)
        # SQLite has no percentile function: it hands over the columns, and numpy summarises them.
        selected = self._columns(query.selection, query.group_by, query.bucket_width)
        return summarize_columns(
            selected.columns,
            query.percentiles,
            query.objective,
            selected.groups,
            selected.buckets,
            failed=selected.failed,
        )

    def sorted_values(self, selection: ResultFilter) -> dict[str, list[float]]:
        selected = self._columns(selection, None, None)
        return sorted_columns(selected.columns, failed=selected.failed)

    def metric_values(self, selection: ResultFilter, metric: str) -> tuple[list[float], int]:
        if not self._postgres:
            selected = self._columns(selection, None, None)
            return sorted_metric(selected.columns, metric, failed=selected.failed)
        # PostgreSQL hands rows over one by one: only the columns this metric needs.
        statement = metric_columns_statement(selection, metric)
        rows = self._read(lambda connection: list(connection.execute(statement).cursor.fetchall()))
        columns, failed = metric_columns(rows, metric)
        return sorted_metric(columns, metric, failed=failed)

    def _columns(self, selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None) -> Selected:
        """The selected results' metrics, with each one's group and bucket when asked for."""
        by_label = group_by is not None and group_by.label_key is not None
        if self._postgres or selection.labels or by_label:
            return self._row_columns(selection, group_by, bucket_width)
        return self._read(lambda connection: packed_columns(connection, selection, group_by, bucket_width))

    def _row_columns(self, selection: ResultFilter, group_by: Grouping | None, bucket_width: int | None) -> Selected:
        statement = row_columns_statement(selection, group_by, bucket_width, postgres=self._postgres)
        # Straight from the driver's cursor: a window's rows are many, and SQLAlchemy's Row
        # objects would more than double the time spent handing them over.
        rows = self._read(lambda connection: list(connection.execute(statement).cursor.fetchall()))
        return split_rows(rows, grouped=group_by is not None, bucketed=bucket_width is not None)

    def get(self, request_id: str) -> BenchmarkResult | None:
        if not storable_text(request_id):
            return None  # no stored id holds it, and PostgreSQL would refuse it as a parameter
        statement = select(results).where(results.c.request_id == request_id)
        row = self._read(lambda connection: connection.execute(statement).first())
        return None if row is None else _result(row)

    def page(self, query: ResultQuery) -> ResultPage:
        at = results.c.recorded_at_us
        statement = (
            select(results)
            .where(*conditions(query.selection, postgres=self._postgres))
            .order_by(at, results.c.request_id)
            .limit(query.limit + 1)
        )
        if query.after is not None:
            after = (microseconds_since_epoch(query.after.timestamp), query.after.request_id)
            statement = statement.where(tuple_(at, results.c.request_id) > tuple_(*map(literal, after)))
        found = [_result(row) for row in self._read(lambda connection: connection.execute(statement).all())]
        if len(found) > query.limit:
            return ResultPage(found[: query.limit], PageKey.of(found[query.limit - 1]))
        return ResultPage(found, None)

    def add(self, batch: Sequence[BenchmarkResult], *, all_or_nothing: bool = True) -> AddOutcome:
        if not batch:
            return AddOutcome(0, 0)
        # One order for every writer: overlapping batches then lock rows in the same order.
        ordered = sorted(batch, key=lambda result: result.request_id)
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                with self._writing() as connection:
                    outcome = self._add(connection, ordered)
                    if outcome.conflicting and all_or_nothing:
                        # Raised inside the transaction, so that it rolls back whole.
                        raise ResultConflict(list(outcome.conflicting))
                    return outcome
            except IntegrityError:
                # Another writer stored one of these ids after we looked: look again.
                logger.info("write attempt %d collided with a concurrent writer; retrying", attempt)
            except DBAPIError as error:
                if not _retryable(error):
                    raise
                logger.info("write attempt %d was rolled back by the database (%s); retrying", attempt, error.orig)
        raise StoreUnavailable(f"{_WRITE_ATTEMPTS} attempts to store the batch collided with concurrent writers")

    def runs(self, query: RunQuery) -> RunPage:
        # The selected results that name a run, summarised as the domain does.
        selection = replace(query.selection, window=None)
        run_label = label_value(RUN_LABEL, postgres=self._postgres)
        statement = select(results).where(*conditions(selection, postgres=self._postgres), run_label.is_not(None))
        rows = self._read(lambda connection: connection.execute(statement).all())
        return RunPage.of(summarize_runs(map(_result, rows)), query)

    def delete_run(self, run: str) -> int:
        if not storable_text(run):
            return 0  # no stored label holds it, and PostgreSQL would refuse it as a parameter
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                with self._writing() as connection:
                    return self._delete_run(connection, run)
            except DBAPIError as error:
                if not _retryable(error):
                    raise
                logger.info("delete attempt %d was rolled back by the database (%s); retrying", attempt, error.orig)
        raise StoreUnavailable(f"{_WRITE_ATTEMPTS} attempts to delete the run collided with concurrent writers")

    def _delete_run(self, connection: Connection, run: str) -> int:
        """Take the run's results out of the rollups (and SQLite's packs), then delete them."""
        condition = _RUN_CONDITION[self._postgres]
        parameters = {"run": run}
        span = text(
            f"SELECT min(r.recorded_at_us), max(r.recorded_at_us) FROM results r WHERE {condition.format(r='r')}"
        )
        first, last = connection.execute(span, parameters).one()
        if first is None:
            return 0
        taken_out = add_to_rollups("results", condition.format(r="r"), ROLLUP_WIDTHS, remove=True)
        connection.execute(text(taken_out), parameters)
        # Buckets left without results go, and with them what rounding left of their sums.
        emptied = result_rollups.c.result_count == 0, result_rollups.c.failed_count == 0
        connection.execute(result_rollups.delete().where(*emptied))
        removed = connection.execute(text(f"DELETE FROM results WHERE {condition.format(r='results')}"), parameters)
        if not self._postgres:
            self._repack(connection, first - first % _MINUTE, last - last % _MINUTE + _MINUTE)
        return int(removed.rowcount)

    def _repack(self, connection: Connection, low: int, high: int) -> None:
        """SQLite: pack the minutes [low, high) anew from the results they hold."""
        connection.execute(
            result_packs.delete().where(result_packs.c.minute_start_us >= low, result_packs.c.minute_start_us < high)
        )
        at = results.c.recorded_at_us
        rows = packs([_result(row) for row in connection.execute(select(results).where(at >= low, at < high))])
        if rows:
            connection.exec_driver_sql(ADD_TO_PACKS, rows)

    def _add(self, connection: Connection, batch: list[BenchmarkResult]) -> AddOutcome:
        if self._postgres:
            return self._add_to_postgres(connection, batch)
        ids = [result.request_id for result in batch]
        stored = {
            result.request_id: result for result in map(_result, connection.execute(_ROWS_WITH_IDS, {"ids": ids}))
        }
        clashing = [
            result.request_id
            for result in batch
            if result.request_id in stored and not result.same_content(stored[result.request_id])
        ]
        new = [result for result in batch if result.request_id not in stored]
        if new:
            placeholders = ", ".join("?" for _ in results.columns)
            connection.exec_driver_sql(f"INSERT INTO results VALUES ({placeholders})", [_row(r) for r in new])
            connection.execute(_ADD_IDS_TO_ROLLUPS, {"ids": [result.request_id for result in new]})
            connection.exec_driver_sql(ADD_TO_PACKS, packs(new))
        return AddOutcome(len(new), len(batch) - len(new) - len(clashing), tuple(clashing))

    def _add_to_postgres(self, connection: Connection, batch: list[BenchmarkResult]) -> AddOutcome:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            stored, clashing = add_rows(cursor, [_row(result) for result in batch])
        # The driver is used directly here, so its errors are wrapped as SQLAlchemy would wrap them.
        except psycopg.IntegrityError as error:
            raise IntegrityError("bulk insert", None, error) from error
        except psycopg.OperationalError as error:
            raise OperationalError("bulk insert", None, error) from error
        return AddOutcome(stored, len(batch) - stored - len(clashing), tuple(clashing))

    def _read(self, work: Callable[[Connection], T]) -> T:
        """`work` on a pooled connection, outside any transaction: one statement needs none.

        Connections are not pinged before use, which would cost a round trip per request. When
        the database has restarted, the first use of an old connection fails, SQLAlchemy drops
        the whole pool, and the read runs once more on a new connection.
        """
        # Outside a transaction PostgreSQL needs no BEGIN and ROLLBACK round trips around the statement.
        options = {"isolation_level": "AUTOCOMMIT"} if self._postgres else {}
        for attempt in (1, 2):
            try:
                with self._available(), self._engine.connect().execution_options(**options) as connection:
                    self._check_schema(connection)
                    return work(connection)
            except StoreUnavailable as error:
                if attempt == 2 or not _dropped_connection(error.__cause__):
                    raise
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


def _window_parameters(window: TimeWindow | None) -> dict[str, int]:
    low, high = _ALL_TIME
    if window is not None:
        low, high = microseconds_since_epoch(window.start), microseconds_since_epoch(window.end) + 1
    pieces = split_window(low, high, ROLLUP_WIDTHS)
    parameters: dict[str, int] = {}
    for name, spans in [("raw", pieces.raw), *((str(level), spans) for level, spans in enumerate(pieces.buckets))]:
        for side, (first, past) in enumerate(spans):
            parameters |= {f"first_{name}_{side}": first, f"past_{name}_{side}": past}
    return parameters


def _aggregate(row: Sequence[Any]) -> ResultAggregate:
    """The row of _window_sums_statement as an aggregate."""
    count, *sums, first_tokens, per_output_tokens, failed = row
    if not count and not failed:
        return ResultAggregate()
    # Every success has its token_count and total_generation_time.
    counts = (count, first_tokens, per_output_tokens, count)
    return ResultAggregate.from_sums(int(count), map(float, sums), map(int, counts), int(failed))


def _conninfo(url: URL) -> str:
    """The URL as psycopg itself takes it (without SQLAlchemy's driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _dropped_connection(cause: BaseException | None) -> bool:
    return isinstance(cause, DBAPIError) and cause.connection_invalidated


def _is_outage(error: DBAPIError) -> bool:
    # OperationalError: cannot connect, connection lost, server shutting down, locked, no such table.
    # InterfaceError: a connection already closed underneath us.
    return error.connection_invalidated or type(error).__name__ in {"OperationalError", "InterfaceError"}


def _retryable(error: DBAPIError) -> bool:
    state = getattr(error.orig, "sqlstate", None) or ""
    return state.startswith(_RETRYABLE_STATES)


def _window_sums_statement() -> Any:
    """One statement for any window: the raw rows at both edges, then per width the buckets at both edges.

    Its shape never changes (an empty piece is an empty range), so the database plans it once.
    """

    def sums(*columns: Any, where: Any) -> list[Any]:
        return [cast(func.sum(column).filter(where), Float(53)) for column in columns]

    def between(column: Any, name: str) -> Any:
        """Inside either of the two spans `name` covers (see _window_parameters)."""
        return or_(
            *(
                and_(column >= bindparam(f"first_{name}_{side}"), column < bindparam(f"past_{name}_{side}"))
                for side in (0, 1)
            )
        )

    succeeded = results.c.error.is_(None)
    # Each piece gives, in this order: successes, the metric sums over them, how many of them
    # have TTFT and TPOT, and failures (see _aggregate).
    raw = select(
        func.count().filter(succeeded).label("result_count"),
        *sums(*(results.c[metric] for metric in METRICS), where=succeeded),
        *(func.count(results.c[metric]).filter(succeeded) for metric in _SOMETIMES_UNDEFINED),
        func.count().filter(~succeeded),
    ).where(between(results.c.recorded_at_us, "raw"))
    levels = [
        select(
            *(func.sum(result_rollups.c[name]) for name in ("result_count", *(f"sum_{metric}" for metric in METRICS))),
            *(func.sum(result_rollups.c[f"count_{metric}"]) for metric in _SOMETIMES_UNDEFINED),
            func.sum(result_rollups.c.failed_count),
        ).where(result_rollups.c.width_us == width, between(result_rollups.c.bucket_start_us, str(level)))
        for level, width in enumerate(ROLLUP_WIDTHS)
    ]
    # One row out: the pieces are added in the database, not handed to Python one by one.
    pieces = union_all(raw, *levels).subquery()
    return select(*(func.coalesce(func.sum(column), 0) for column in pieces.columns))


def _row(result: BenchmarkResult) -> tuple[Any, ...]:
    """A result as a row of `results`, in column order; labels as canonical JSON text."""
    return (
        result.request_id,
        microseconds_since_epoch(result.timestamp),
        result.token_count,
        result.time_to_first_token,
        result.time_per_output_token,
        result.total_generation_time,
        result.prompt_text,
        result.generated_text,
        result.model,
        json.dumps(result.labels, separators=(",", ":"), ensure_ascii=False) if result.labels else "{}",
        result.prompt_token_count,
        result.error,
    )


def _result(row: Row[Any]) -> BenchmarkResult:
    labels = row.labels if isinstance(row.labels, dict) else json.loads(row.labels)
    return BenchmarkResult(
        request_id=row.request_id,
        token_count=row.token_count,
        time_to_first_token=row.time_to_first_token,
        time_per_output_token=row.time_per_output_token,
        total_generation_time=row.total_generation_time,
        timestamp=_EPOCH + timedelta(microseconds=row.recorded_at_us),
        prompt_text=row.prompt_text,
        generated_text=row.generated_text,
        model=row.model,
        labels=labels,
        prompt_token_count=row.prompt_token_count,
        error=row.error,
    )
