"""Use cases that write: store a batch of results all or nothing, and import a stream in bounded batches."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from src.application.ports.result_store import AddOutcome, ResultStore
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult, InvalidResults, ResultConflict

MAX_BATCH_SIZE = 10_000
# An import reports this many rejected lines in detail, and counts the rest.
REPORTED_REJECTIONS = 100


def validated(record: object, index: int) -> BenchmarkResult:
    """The domain's verdict on one decoded record, located at `index` when it is refused."""
    try:
        return BenchmarkResult.from_mapping(record)
    except InvalidResult as error:
        raise error.at(index, record.get("request_id") if isinstance(record, dict) else None) from None


def distinct(results: Iterable[BenchmarkResult]) -> tuple[list[BenchmarkResult], int, list[str]]:
    """The first result of each request_id, how many identical repeats were dropped, and the ids
    repeated with other content."""
    first: dict[str, BenchmarkResult] = {}
    repeats = 0
    conflicting: dict[str, None] = {}
    for result in results:
        seen = first.setdefault(result.request_id, result)
        if seen is result:
            continue
        if seen.same_content(result):
            repeats += 1
        else:
            conflicting[result.request_id] = None
    return list(first.values()), repeats, list(conflicting)


class StoreResults:
    """POST /results: up to MAX_BATCH_SIZE results, validated by the domain, stored all or nothing."""

    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, records: Sequence[object]) -> AddOutcome:
        if len(records) > MAX_BATCH_SIZE:
            raise InvalidResults(
                [InvalidResult(None, f"a batch holds at most {MAX_BATCH_SIZE} results, got {len(records)}")]
            )
        valid, errors = [], []
        for index, record in enumerate(records):
            try:
                valid.append(validated(record, index))
            except InvalidResult as error:
                errors.append(error)
        if errors:
            raise InvalidResults(errors)
        unique, repeats, conflicting = distinct(valid)
        if conflicting:
            raise ResultConflict(conflicting)
        outcome = self._results.add(unique)
        return AddOutcome(outcome.stored, outcome.already_stored + repeats)


@dataclass
class ImportReport:
    """What an import did with each line: stored, already stored (identical), or rejected."""

    stored: int = 0
    already_stored: int = 0
    rejected: int = 0
    errors: list[InvalidResult] = field(default_factory=list)

    def merge(self, later: ImportReport) -> None:
        """Add what a later batch of the same import did."""
        self.stored += later.stored
        self.already_stored += later.already_stored
        self.rejected += later.rejected
        self.errors.extend(later.errors[: REPORTED_REJECTIONS - len(self.errors)])

    def reject(self, error: InvalidResult) -> None:
        self.rejected += 1
        if len(self.errors) < REPORTED_REJECTIONS:
            self.errors.append(error)


class ImportResults:
    """POST /results/import: one JSON result per line; each batch is one transaction.

    Unlike a batch POST, a bad line does not stop an import: it is rejected and reported by line
    number, and the good lines around it are stored. A re-run of the same import stores nothing new.
    """

    def __init__(self, results: ResultStore, decode: Callable[[bytes], object] = json.loads) -> None:
        """`decode` turns one line into a JSON value, raising ValueError when the line is not JSON."""
        self._results = results
        self._decode = decode

    def validate(
        self, lines: Sequence[tuple[int, bytes]], report: ImportReport
    ) -> tuple[list[BenchmarkResult], list[int]]:
        """The valid results of a batch and their line numbers; invalid lines go to `report`.

        It touches no store, so a batch can be validated while the one before it is being stored.
        """
        valid, numbers = [], []
        for number, line in lines:
            try:
                valid.append(validated(self._decoded(line, number), number))
                numbers.append(number)
            except InvalidResult as error:
                report.reject(error)
        return valid, numbers

    def _decoded(self, line: bytes, number: int) -> object:
        try:
            return self._decode(line)
        except ValueError as error:
            raise InvalidResult(None, f"is not valid JSON: {error}", index=number) from None

    def store_valid(self, valid: Sequence[BenchmarkResult], report: ImportReport, numbers: Sequence[int]) -> None:
        """Store one batch of results the domain already accepted, adding what happened to `report`.

        `numbers` gives each result's line (or position) so that a rejection can say where it was.
        The batch is one transaction that stores every result not in conflict, and the report
        counts exactly what it committed, as if the lines were taken one at a time: a line whose
        request_id is new is stored; a line saying what its id already names (in the store or on
        an earlier line) is already stored; any other line is rejected. Raises StoreUnavailable.
        """
        first: dict[str, tuple[BenchmarkResult, int]] = {}
        later: list[tuple[BenchmarkResult, int]] = []
        for result, number in zip(valid, numbers, strict=True):
            if first.setdefault(result.request_id, (result, number))[0] is not result:
                later.append((result, number))
        # Conflicts with stored results are returned, not raised, so that the same transaction
        # stores the rest: a second attempt could meet new conflicts from concurrent writers.
        outcome = self._results.add([result for result, _ in first.values()], all_or_nothing=False)
        report.stored += outcome.stored
        report.already_stored += outcome.already_stored
        # What each id names now: its first line, unless a stored result already held the id.
        kept: dict[str, BenchmarkResult | None] = {request_id: result for request_id, (result, _) in first.items()}
        for request_id in outcome.conflicting:
            report.reject(_conflict(request_id, first[request_id][1], "a stored result"))
            kept[request_id] = self._results.get(request_id)
        for result, number in later:
            keeper = kept[result.request_id]
            if keeper is not None and keeper.same_content(result):
                report.already_stored += 1
            else:
                report.reject(_conflict(result.request_id, number, "a stored result or an earlier line"))


def _conflict(request_id: str, index: int, other: str) -> InvalidResult:
    return InvalidResult(
        "request_id", f"already names a different result ({other})", index=index, request_id=request_id
    )
