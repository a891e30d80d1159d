"""The use case that writes one batch: POST /results stores up to MAX_BATCH_SIZE results, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from src.application.ports.result_store import AddOutcome, ResultStore
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult, InvalidResults, ResultConflict

MAX_BATCH_SIZE = 10_000


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
