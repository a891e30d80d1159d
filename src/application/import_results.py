"""The import use case: a benchmark tool's files in, stored in bounded batches, and a report that
says exactly what was committed."""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from src.application.ports.result_reader import HEAD_BYTES, ImportOptions, ReadBlock, ResultReader, ToolFile, ToolRun
from src.application.ports.result_store import ResultStore
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult, MissingImportOption, UnreadableFile
from src.domain.result_columns import ResultColumns

# An import reports this many rejected requests in detail, and counts the rest.
REPORTED_REJECTIONS = 100
AUTO = "auto"


@dataclass
class ImportReport:
    """What an import did with each request of its files: stored, already stored (identical), or
    rejected (the first REPORTED_REJECTIONS by position listed, with their position and reason); `failed` counts the
    failed requests among those now stored; `run`, `tool` and `file_format` say what was read."""

    stored: int = 0
    already_stored: int = 0
    rejected: int = 0
    failed: int = 0
    errors: list[InvalidResult] = field(default_factory=list)
    run: str | None = None
    tool: str | None = None
    file_format: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Batches are read on one thread and stored on others: each change is made whole under it.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def reject(self, error: InvalidResult) -> None:
        with self._lock:
            self.rejected += 1
            self._listed(error)

    def _listed(self, error: InvalidResult) -> None:
        # The first REPORTED_REJECTIONS by position, whatever order they were found in: a
        # conflict is found when its batch is stored, after the bad lines read meanwhile.
        bisect.insort(self.errors, error, key=_position)
        del self.errors[REPORTED_REJECTIONS:]

    def add(self, other: ImportReport) -> None:
        """Count what `other` (one batch's report) counted too."""
        with self._lock:
            self.stored += other.stored
            self.already_stored += other.already_stored
            self.failed += other.failed
            self.rejected += other.rejected
            for error in other.errors:
                self._listed(error)


class ImportResults:
    """Reads a tool's files with the reader of their format and stores their results.

    A request the domain refuses is rejected and reported by its position while the rest is
    stored; files that cannot be read as their format store nothing (UnreadableFile). Each batch
    of `batch_rows` results is one transaction; the next batch is read while one is being stored.
    Importing the same files again stores nothing new.
    """

    def __init__(self, results: ResultStore, readers: Sequence[ResultReader], batch_rows: int = 10_000) -> None:
        """`readers` in the order auto-detection tries them: the first that recognizes a file reads it."""
        self._results = results
        self._readers = {reader.format: reader for reader in readers}
        self._batch_rows = batch_rows

    @property
    def formats(self) -> tuple[str, ...]:
        """The formats `file_format` may name, besides `auto`."""
        return tuple(self._readers)

    def __call__(
        self,
        files: Sequence[ToolFile],
        options: ImportOptions,
        file_format: str = AUTO,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import `files` (one run's files) and report what was stored.

        Raises MissingImportOption (`format` unknown or undetectable, or an option the files
        need), UnreadableFile, and StoreUnavailable; batches stored before a StoreUnavailable stay
        stored, and `report` (pass one in to keep it) says how far it got. `progress` is told how
        many requests each stored batch held.
        """
        return self.into(ImportReport(), files, options, file_format, progress)

    def into(
        self,
        report: ImportReport,
        files: Sequence[ToolFile],
        options: ImportOptions,
        file_format: str = AUTO,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """As calling the use case, adding to `report`, which holds what was done even when it raises."""
        # An empty batch first, so that a store taking no writes says so before any file is read.
        self._results.add([])
        run = self.reader_for(files, file_format).read(files, options)
        # A run without a name (our own formats without run=) carries no run label: none is reported.
        report.run, report.tool, report.file_format = run.run or None, run.tool, run.format
        self._store(run, report, progress or (lambda _count: None))
        # What the import wrote is tidied for readers, behind its answer where the store can.
        self._results.compact()
        report.warnings.extend(run.warnings)
        return report

    def reader_for(self, files: Sequence[ToolFile], file_format: str) -> ResultReader:
        """The reader of `file_format`, or, for `auto`, of the first format a file is recognized as."""
        if not files:
            raise UnreadableFile(file_format, "no file was sent")
        if file_format != AUTO:
            if file_format not in self._readers:
                raise MissingImportOption("format", f"{file_format!r} is none of {AUTO}, {', '.join(self._readers)}")
            return self._readers[file_format]
        heads = [(file.name, _head(file)) for file in files]
        if not any(head.strip() for _, head in heads):
            raise UnreadableFile(file_format, "the body is empty: send a tool's result file")
        for reader in self._readers.values():
            if any(reader.recognizes(head, name) for name, head in heads):
                return reader
        raise MissingImportOption(
            "format", f"the file is none of the formats this service reads ({', '.join(self._readers)}); name one"
        )

    def _store(self, run: ToolRun, report: ImportReport, progress: Callable[[int], None]) -> None:
        # Batches are stored (by the database, mostly off the GIL) while the next is read and
        # validated here, up to the store's concurrent_batches at once. Two batches naming one
        # request_id are never in flight together: the earlier commits first, so an id keeps its
        # first line, as if the file were stored one batch at a time.
        at_once = max(1, self._results.concurrent_batches)
        with ThreadPoolExecutor(max_workers=at_once) as storing:
            in_flight: deque[tuple[Future[None], PlannedBatch]] = deque()
            try:
                for batch, positions in _batches(run, report, self._batch_rows):
                    plan = planned(batch, positions)
                    while in_flight and (
                        len(in_flight) >= at_once
                        or any(not plan.first.keys().isdisjoint(o.first) for _, o in in_flight)
                    ):
                        in_flight.popleft()[0].result()
                    in_flight.append((storing.submit(self._store_batch, plan, report, progress), plan))
            finally:
                # Every batch sent is waited for, so the report holds each that committed; the
                # first failure is raised.
                done = [future.exception() for future, _ in in_flight]
            for failure in done:
                if failure is not None:
                    raise failure

    def _store_batch(self, plan: PlannedBatch, report: ImportReport, progress: Callable[[int], None]) -> None:
        stored = ImportReport()
        store_planned(self._results, plan, stored)
        report.add(stored)
        progress(len(plan.batch))


Batch = tuple[ResultColumns, Sequence[int]]
"""Accepted results as columns, and each one's position in its file."""


def _batches(run: ToolRun, report: ImportReport, size: int) -> Iterable[Batch]:
    """The run's accepted results in batches of `size` (the last one smaller), in file order, its
    refused ones reported on the way: single entries and readers' blocks alike are gathered into
    batches, a block split where a batch ends."""
    parts: list[Batch] = []  # what the next batch holds so far, in file order
    held = 0
    results: list[BenchmarkResult] = []
    positions: list[int] = []

    def singles_as_a_part() -> None:
        nonlocal results, positions
        if results:
            parts.append((ResultColumns.of(results), positions))
            results, positions = [], []

    for entry in run.entries:
        if isinstance(entry, ReadBlock):
            for error in entry.refused:
                report.reject(error)
            singles_as_a_part()
            parts.append((entry.accepted, entry.positions))
            held += len(entry.positions)
        elif isinstance(entry.outcome, InvalidResult):
            report.reject(entry.outcome)
        else:
            results.append(entry.outcome)
            positions.append(entry.position)
            held += 1
        if held >= size:
            singles_as_a_part()
            # A block that is a batch (as NDJSON's usually are) goes as it is: nothing is copied.
            columns, numbers = _joined(parts)
            for start in range(0, held - held % size, size):
                yield columns.sliced(start, start + size), numbers[start : start + size]
            held %= size
            rest = len(numbers) - held
            parts = [(columns.sliced(rest, len(numbers)), numbers[rest:])] if held else []
    singles_as_a_part()
    if held:
        yield _joined(parts)


def _joined(parts: list[Batch]) -> Batch:
    """Consecutive parts of a run as one."""
    if len(parts) == 1:
        return parts[0]
    return ResultColumns.joined([columns for columns, _ in parts]), [n for _, numbers in parts for n in numbers]


# Whether the id's other result is found in the store or earlier in the same batch depends on
# where batches end, which the user does not see: one wording for both.
_STORED_OR_EARLIER = "a stored result or an earlier request"


def _position(error: InvalidResult) -> int:
    return error.index or 0


def _head(file: ToolFile) -> bytes:
    with file.path.open("rb") as content:
        return content.read(HEAD_BYTES)


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """A batch as store_planned takes it: `unique` the first result of each request_id, in
    request_id order (the order every store's writers lock rows in); `first` each id's index in
    `batch`, `later` the indices of its repeats, `positions` each result's place in its file."""

    batch: ResultColumns
    positions: Sequence[int]
    unique: ResultColumns
    first: dict[str, int]
    later: list[int]


def planned(batch: ResultColumns, positions: Sequence[int]) -> PlannedBatch:
    """What store_planned needs of a batch, worked out apart from storing it (an import plans the
    next batch while one is being stored)."""
    ids = batch.request_id
    first: dict[str, int] = {}
    later: list[int] = []
    for index, request_id in enumerate(ids):
        if first.setdefault(request_id, index) != index:
            later.append(index)
    unique = batch.take(sorted(first.values(), key=ids.__getitem__))
    return PlannedBatch(batch, positions, unique, first, later)


def store_columns(results: ResultStore, batch: ResultColumns, report: ImportReport, positions: Sequence[int]) -> None:
    """Store one batch of results the domain already accepted, adding what happened to `report`.

    `positions` gives each result's place in its file so that a rejection can say where it was.
    The batch is one transaction that stores every result not in conflict, and the report counts
    exactly what it committed, as if the requests were taken one at a time: a request whose
    request_id is new is stored; one saying what its id already names (in the store or earlier in
    the file) is already stored; any other is rejected. Raises StoreUnavailable.
    """
    store_planned(results, planned(batch, positions), report)


def store_planned(results: ResultStore, plan: PlannedBatch, report: ImportReport) -> None:
    """store_columns of a batch already planned."""
    batch, positions, first = plan.batch, plan.positions, plan.first
    # Conflicts with stored results are returned, not raised, so that the same transaction
    # stores the rest: a second attempt could meet new conflicts from concurrent writers.
    outcome = results.add_columns(plan.unique, all_or_nothing=False)
    report.stored += outcome.stored
    report.already_stored += outcome.already_stored
    for request_id in outcome.conflicting:
        report.reject(_conflict(request_id, positions[first[request_id]], _STORED_OR_EARLIER))
    conflicting = set(outcome.conflicting)
    errors = batch.error
    report.failed += sum(
        1 for request_id, index in first.items() if errors[index] is not None and request_id not in conflicting
    )
    # What each repeated id names now: its first line, unless a stored result already held the id.
    kept: dict[str, BenchmarkResult | None] = {}
    for index in plan.later:
        request_id = batch.request_id[index]
        if request_id not in kept:
            kept[request_id] = results.get(request_id) if request_id in conflicting else batch.result(first[request_id])
        keeper, repeated = kept[request_id], batch.result(index)
        if keeper is not None and keeper.same_content(repeated):
            report.already_stored += 1
            report.failed += errors[index] is not None
        else:
            report.reject(_conflict(request_id, positions[index], _STORED_OR_EARLIER))


def _conflict(request_id: str, position: int, other: str) -> InvalidResult:
    return InvalidResult(
        "request_id", f"already names a different result ({other})", index=position, request_id=request_id
    )
