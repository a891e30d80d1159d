"""PostgresResultStore: the SQL store on PostgreSQL (driven by psycopg 3)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import operator
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, OperationalError

from src.adapters.column_statistics import sorted_metric
from src.adapters.sql_store.base import SqlStoreBase
from src.adapters.sql_store.database import CONNECT_TIMEOUT_SECONDS, WRITES
from src.adapters.sql_store.postgres import rollup_parts, summaries, summary_parts
from src.adapters.sql_store.postgres.async_connections import AsyncConnections
from src.adapters.sql_store.postgres.averages_mirror import NOTIFY, AveragesMirror
from src.adapters.sql_store.postgres.background_compaction import BackgroundCompaction
from src.adapters.sql_store.postgres.ingest import BatchColumns, add_rows
from src.adapters.sql_store.postgres.statistics import (
    goodput_statement,
    group_count_statement,
    label_is,
    label_value,
    metric_columns,
    metric_columns_statement,
    summary_row,
    summary_statement,
)
from src.adapters.sql_store.postgres.summaries import plan
from src.adapters.sql_store.window_sums import window_aggregate, window_parameters
from src.application.ports.result_store import AddOutcome, SummaryKey, SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import StoreUnavailable
from src.domain.result_aggregate import ResultAggregate
from src.domain.result_columns import ResultColumns, row_of
from src.domain.result_selection import ResultFilter
from src.domain.runs import RUN_LABEL
from src.domain.statistics import MAX_GROUPS, ResultSummary, refuse_oversized_answer
from src.domain.time_window import TimeWindow

DEFAULT_EXACT_PERCENTILE_RESULTS = 20_000
"""Selections of at most this many results get exact percentiles (see the settings)."""
COMPACT_AFTER_WRITES = 64
"""A process has the summaries' and rollups' parts merged after this many of its writes, so that a
reader merges about this many parts per bucket and writer process at most, beside the merges in
progress (an import also has them merged after its end). Each merge rewrites every crowded
bucket: fewer merges, less rewriting; more parts between them, more for readers to read."""
_COMPACTED_AT_ONCE = 200_000
"""Parts merged at a time (some 70 MB of small parts in memory)."""
_VACUUM_AFTER_PARTS = 10_000
"""A compaction merging at least this many parts vacuums the tables after it (see compact_now)."""
_VACUUMING = {"isolation_level": "AUTOCOMMIT", WRITES: True}
DEFAULT_AVERAGES_MIRROR_RESULTS = 2_000_000
"""A store of at most this many results is copied into each serving process for window averages
(see averages_mirror and the settings)."""


logger = logging.getLogger(__name__)


class PostgresResultStore(SqlStoreBase):
    """Results in PostgreSQL: batches stored by COPY, window averages from each process's copy of the
    results while it is current (up to `averages_mirror_results` results; 0: never) and otherwise
    straight through psycopg on the event loop, statistics from summaries per series and rollup
    bucket (see summaries) with sketched percentiles beyond `exact_percentile_results` results,
    and exactly in one statement (percentile_cont) up to it or where no series names the selection.

    Raises StoreUnavailable when the database cannot answer (see SqlStoreBase).
    """

    # Outside a transaction PostgreSQL needs no BEGIN and ROLLBACK round trips around the statement.
    _READ_OPTIONS: ClassVar[dict[str, Any]] = {"isolation_level": "AUTOCOMMIT"}
    _RUN_CONDITION: ClassVar[str] = f"{{r}}.labels ->> '{RUN_LABEL}' = :run"
    _ROLLUP_PART: ClassVar[str | None] = rollup_parts.APPENDED_PART

    _label_is = staticmethod(label_is)

    def __init__(
        self,
        engine: Engine,
        exact_percentile_results: int = DEFAULT_EXACT_PERCENTILE_RESULTS,
        averages_mirror_results: int = DEFAULT_AVERAGES_MIRROR_RESULTS,
    ) -> None:
        super().__init__(engine)
        self._exact_at_most = exact_percentile_results
        conninfo = _conninfo(engine.url)
        self._connections = AsyncConnections(conninfo, engine.pool.size(), CONNECT_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
        mirrored = averages_mirror_results > 0
        self._mirror = AveragesMirror(conninfo, averages_mirror_results, CONNECT_TIMEOUT_SECONDS) if mirrored else None
        self._writes_since_compaction = 0
        self._counting = threading.Lock()
        self._compaction = BackgroundCompaction(self.compact_now)
        compiled = self._window_sums.compile(dialect=engine.dialect)
        self._window_sums_sql = str(compiled)
        self._window_sums_defaults = dict(compiled.params)

    @property
    def averages_mirrored(self) -> int:
        """Results in this process's current copy for averages; 0 when there is none or it is stale."""
        return 0 if self._mirror is None else self._mirror.holds

    async def aggregate_async(self, window: TimeWindow | None = None) -> ResultAggregate:
        if not self._schema_checked:
            await asyncio.to_thread(self._read, lambda _connection: None)
        if self._mirror is not None:
            mirrored = self._mirror.aggregate(window)
            if mirrored is not None:
                return mirrored
        # Straight to psycopg, without SQLAlchemy's per-execution work: this is the busiest query.
        parameters = self._window_sums_defaults | window_parameters(window)
        return window_aggregate(await self._connections.fetch_one(self._window_sums_sql, parameters))

    def pool_in_use(self) -> int:
        # The averages' own connections beside SQLAlchemy's pool.
        return super().pool_in_use() + self._connections.in_use

    def close(self) -> None:
        # A compaction running or asked for ends first: it holds a pooled connection.
        self._compaction.close()
        super().close()

    async def aclose(self) -> None:
        # Off the event loop: a server's last import may leave seconds of merging.
        await asyncio.to_thread(self._compaction.close)
        if self._mirror is not None:
            await self._mirror.close()
        await self._connections.close()
        await super().aclose()

    def summarize(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        first, past = self._read(lambda connection: connection.exec_driver_sql(summaries.SPAN).one())
        if first is None:
            return {}  # nothing stored
        found = plan(query, (first, past))
        if found is not None:
            answer = self._read(lambda connection: summaries.summarize(connection, query, found, self._exact_at_most))
            if answer is not None:
                return self._with_goodput(answer, query)
        return self._summarize_rows(query)

    def _with_goodput(
        self, answer: dict[SummaryKey, ResultSummary], query: SummaryQuery
    ) -> dict[SummaryKey, ResultSummary]:
        """Goodput joins several metrics of each result, which no summary keeps: it is counted
        over the rows (a scan of the window, without handing a row over)."""
        if query.objective is None:
            return answer
        statement = goodput_statement(query)
        met = {(group, bucket): count for group, bucket, count in self._read(lambda c: c.execute(statement).all())}
        return {key: replace(summary, goodput=int(met.get(key, 0))) for key, summary in answer.items()}

    def _summarize_rows(self, query: SummaryQuery) -> dict[SummaryKey, ResultSummary]:
        """Exact statistics in one statement over the selected rows."""
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

    def metric_values(self, selection: ResultFilter, metric: str) -> tuple[list[float], int]:
        # PostgreSQL hands rows over one by one: only the columns this metric needs.
        statement = metric_columns_statement(selection, metric)
        rows = self._read(lambda connection: list(connection.execute(statement).cursor.fetchall()))
        columns, failed = metric_columns(rows, metric)
        return sorted_metric(columns, metric, failed=failed)

    def _label_value(self, key: str) -> Any:
        return label_value(key)

    def _written(self) -> None:
        # Committed or not, this process's copy is not trusted past a write of its own.
        if self._mirror is not None:
            self._mirror.changed()

    @property
    def concurrent_batches(self) -> int:
        # One batch's COPY runs beside another's rollups, summaries and commit, each on its own
        # connection and server process; both append parts, and neither waits for the other's rows.
        return 2

    def compact(self) -> None:
        """Have the summaries' and rollups' parts merged on the store's own thread (see
        compact_now), after this returns: readers merge what is not merged yet, so only the cost
        of answers waits for it."""
        with self._counting:
            self._writes_since_compaction = 0
        self._compaction.ask()

    def wait_for_compaction(self) -> None:
        """Return once every compaction asked for so far has ended."""
        self._compaction.wait()

    def compact_now(self) -> None:
        """Merge the summaries' and the rollups' parts: every bucket holding several ends with one
        (see summary_parts and rollup_parts). A database that cannot do it now is logged, not
        raised: answers are the same without it."""
        try:
            merged = self._attempts(self._compact_all, "compact the summaries and rollups")
            if merged >= _VACUUM_AFTER_PARTS:
                self._vacuum_parts()
        except StoreUnavailable as error:
            logger.warning("the parts were left unmerged (answers stay right, only slower): %s", error)

    def _vacuum_parts(self) -> None:
        """Vacuum the summaries and rollups after many of their rows died (merged parts, rebuilt
        buckets): each is a dead row every index scan of the table steps over until a vacuum. A
        year's days and hours read in 156 ms right after a 1,000,000-result import's compaction,
        15 ms after this (0.5 s); autovacuum comes a minute later, or never where it is off. A
        user who does not own the tables gets a warning from PostgreSQL, not an error, logged
        here as a warning. Raises StoreUnavailable."""
        refusals: list[str] = []

        def heard(notice: psycopg.errors.Diagnostic) -> None:
            if notice.severity_nonlocalized == "WARNING":
                refusals.append(notice.message_primary or "")

        with self._available(), self._engine.connect().execution_options(**_VACUUMING) as connection:
            driver = connection.connection.driver_connection
            driver.add_notice_handler(heard)  # type: ignore[union-attr]
            try:
                connection.exec_driver_sql("VACUUM result_summaries, result_rollups")
            finally:
                driver.remove_notice_handler(heard)  # type: ignore[union-attr]
        for refusal in refusals:
            # PostgreSQL only warns a user who does not own the tables: said here, not lost.
            logger.warning("the summaries and rollups were not vacuumed (%s): their owner or autovacuum must", refusal)

    def delete_run(self, run: str) -> int:
        removed = super().delete_run(run)
        if removed:
            # The rebuild deleted every summary of the run's 30-day buckets and wrote them anew.
            try:
                self._vacuum_parts()
            except StoreUnavailable as error:
                logger.warning("the summaries and rollups were not vacuumed after the run's deletion: %s", error)
        return removed

    @staticmethod
    def _compact_all(connection: Connection) -> int:
        with _driver_errors(connection):
            merged = summary_parts.compact(connection, _COMPACTED_AT_ONCE)
            # Under the compaction's locks, which the summaries took.
            return merged + rollup_parts.merge(connection.connection.driver_connection)

    def _add_batch(self, add: Callable[[Connection], AddOutcome], *, all_or_nothing: bool) -> AddOutcome:
        outcome = super()._add_batch(add, all_or_nothing=all_or_nothing)
        if outcome.stored:
            with self._counting:
                self._writes_since_compaction += 1
                due = self._writes_since_compaction >= COMPACT_AFTER_WRITES
            if due:
                self.compact()
        return outcome

    def add_columns(self, columns: ResultColumns, *, all_or_nothing: bool = True) -> AddOutcome:
        if not len(columns):
            return AddOutcome(0, 0)
        # As add, without a BenchmarkResult per row: the columns are the rows COPY sends. An
        # import hands them over in request_id order already; anything else is put in it.
        ids = columns.request_id
        if any(map(operator.gt, ids, itertools.islice(ids, 1, None))):
            columns = columns.take(sorted(range(len(ids)), key=ids.__getitem__))
        rows, batch = list(columns.rows()), BatchColumns.from_columns(columns)
        return self._add_batch(
            lambda connection: self._add_rows(connection, rows, batch), all_or_nothing=all_or_nothing
        )

    def _add(self, connection: Connection, batch: list[BenchmarkResult]) -> AddOutcome:
        return self._add_rows(connection, [row_of(result) for result in batch])

    def _add_rows(
        self, connection: Connection, rows: list[tuple[Any, ...]], batch: BatchColumns | None = None
    ) -> AddOutcome:
        """Store rows of `results` (row_of's tuples, in request_id order) as _add stores results;
        `batch`, when given, holds the same rows' columns."""
        # Delivered to every listening process when this transaction commits (see averages_mirror).
        # The transaction's first statement, through SQLAlchemy: a pooled connection the database
        # has dropped is found here, and SQLAlchemy then replaces every connection of its pool.
        connection.exec_driver_sql(NOTIFY)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with _driver_errors(connection):
            stored, skipped, clashing = add_rows(cursor, rows)
            already = set(skipped)
            new = [row for row in rows if row[0] not in already] if already else rows
            columns = batch if batch is not None and not already else BatchColumns.of(new)
            summary_parts.add_results(connection, new, columns)
            rollup_parts.add_results(cursor, columns)
        return AddOutcome(stored, len(rows) - stored - len(clashing), tuple(clashing))

    def _take_out(self, connection: Connection, condition: str, parameters: dict[str, Any]) -> tuple[int, int, int]:
        # The summaries' lock, alone, before any row (see summary_parts.rebuild): no writer commits
        # results, appends a part or merges any, until the deletion commits. So the rollups and
        # summaries rebuilt after the deletion read exactly the results that remain; a writer's
        # results of the run not yet committed are neither deleted nor read, and its parts come after.
        connection.exec_driver_sql(summary_parts.REBUILDING)
        statement = f"""
            WITH gone AS (DELETE FROM results WHERE {condition.format(r="results")} RETURNING recorded_at_us)
            SELECT count(*), coalesce(min(recorded_at_us), 0), coalesce(max(recorded_at_us), 0) FROM gone
        """
        removed, first, last = connection.execute(text(statement), parameters).one()
        return int(removed), int(first), int(last)

    def _deleted(self, connection: Connection, first_us: int, last_us: int) -> None:
        connection.exec_driver_sql(NOTIFY)
        # Summaries cannot take results out (a minimum has no inverse): their buckets are rebuilt.
        with _driver_errors(connection):
            summary_parts.rebuild(connection, first_us, last_us + 1)


@contextmanager
def _driver_errors(connection: Connection) -> Iterator[None]:
    """psycopg's errors, where it is used directly, as SQLAlchemy would raise them: a connection
    the database dropped is invalidated, so that the pool never hands it out again and the
    write may run once more on a new one (SqlStoreBase._write)."""
    try:
        yield
    except psycopg.IntegrityError as error:
        raise IntegrityError("bulk write", None, error) from error
    except psycopg.OperationalError as error:
        dropped = bool(connection.connection.driver_connection.broken)  # type: ignore[union-attr]
        if dropped:
            connection.invalidate()
        raise OperationalError("bulk write", None, error, connection_invalidated=dropped) from error


def _conninfo(url: URL) -> str:
    """The URL as psycopg itself takes it (without SQLAlchemy's driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
