"""ResultColumns: a batch of accepted results held as columns, the form a bulk import travels in.

An import of a million results would otherwise build a million BenchmarkResult objects only to take
them apart again into a database's rows. A batch is built either from results (`of`), or by a
reader that applied BenchmarkResult's rules to whole columns at once and sent every value it could
not settle through BenchmarkResult itself; either way each row is a result the domain accepts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from src.domain.benchmark_result import BenchmarkResult
from src.domain.timestamps import microseconds_since_epoch

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def canonical_labels(labels: Mapping[str, str]) -> str:
    """A result's labels as the JSON text every store keeps and compares: keys sorted, no spaces,
    characters as they are (not \\u escapes); "{}" for none."""
    if not labels:
        return "{}"
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)


def row_of(result: BenchmarkResult) -> tuple[Any, ...]:
    """A result as one row of ResultColumns' columns, in their order (a database's column order):
    its instant in whole microseconds since the epoch, its labels as canonical JSON text."""
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
        canonical_labels(result.labels),
        result.prompt_token_count,
        result.error,
    )


@dataclass(frozen=True, slots=True)
class ResultColumns:
    """Accepted results, item i of every column being result i's, in a database's column order.

    `recorded_at_us` is the instant in whole microseconds since 1970-01-01T00:00:00Z (UTC), and
    `labels` the canonical JSON text of the labels (canonical_labels). A metric is None where it
    is undefined, as in BenchmarkResult; times are milliseconds.
    """

    request_id: Sequence[str]
    recorded_at_us: Sequence[int]
    token_count: Sequence[int | None]
    time_to_first_token: Sequence[float | None]
    time_per_output_token: Sequence[float | None]
    total_generation_time: Sequence[float | None]
    prompt_text: Sequence[str]
    generated_text: Sequence[str]
    model: Sequence[str | None]
    labels: Sequence[str]
    prompt_token_count: Sequence[int | None]
    error: Sequence[str | None]
    built_from: Sequence[BenchmarkResult] | None = field(default=None, repr=False, compare=False)
    """The results the columns were made of (`of`), handed back by `result` rather than built again."""

    @classmethod
    def of(cls, results: Sequence[BenchmarkResult]) -> ResultColumns:
        """The results as columns (their rows are what `rows` gives)."""
        return replace(cls.from_rows([row_of(result) for result in results]), built_from=results)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Any, ...]]) -> ResultColumns:
        """Rows in the columns' order (as `rows` gives them) as columns."""
        if not rows:
            return cls(*([] for _ in _NAMES))
        return cls(*(list(column) for column in zip(*rows, strict=True)))

    @classmethod
    def joined(cls, parts: Sequence[ResultColumns]) -> ResultColumns:
        """The parts' results one after another."""
        columns = cls(*([value for part in parts for value in getattr(part, name)] for name in _NAMES))
        if all(part.built_from is not None for part in parts):
            return replace(columns, built_from=[result for part in parts for result in part.built_from or ()])
        return columns

    def __len__(self) -> int:
        return len(self.request_id)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Each result as a tuple of its values in the columns' order."""
        return zip(*self.columns(), strict=True)

    def columns(self) -> tuple[Sequence[Any], ...]:
        """Every column, in order."""
        return tuple(getattr(self, name) for name in _NAMES)

    def take(self, indices: Sequence[int]) -> ResultColumns:
        """The results at `indices`, in that order."""
        built_from = None if self.built_from is None else [self.built_from[index] for index in indices]
        taken = ResultColumns(*([column[index] for index in indices] for column in self.columns()))
        return taken if built_from is None else replace(taken, built_from=built_from)

    def sliced(self, start: int, stop: int) -> ResultColumns:
        """The results from `start` up to `stop`, as a list slice takes them (these columns
        themselves when that is all of them)."""
        if start == 0 and stop >= len(self):
            return self
        built_from = None if self.built_from is None else self.built_from[start:stop]
        taken = ResultColumns(*(column[start:stop] for column in self.columns()))
        return taken if built_from is None else replace(taken, built_from=built_from)

    def result(self, index: int) -> BenchmarkResult:
        """Result `index` as a BenchmarkResult (built, and so validated, again unless the columns
        were made of results)."""
        if self.built_from is not None:
            return self.built_from[index]
        (
            request_id,
            at_us,
            token_count,
            first,
            per_token,
            total,
            prompt,
            generated,
            model,
            labels,
            prompt_tokens,
            error,
        ) = (column[index] for column in self.columns())
        return BenchmarkResult(
            request_id,
            token_count,
            first,
            per_token,
            total,
            _UNIX_EPOCH + timedelta(microseconds=at_us),
            prompt,
            generated,
            model,
            json.loads(labels),
            prompt_tokens,
            error,
        )

    def results(self) -> list[BenchmarkResult]:
        """Every result as a BenchmarkResult, in order."""
        if self.built_from is not None:
            return list(self.built_from)
        return [self.result(index) for index in range(len(self))]

    def failed(self) -> int:
        """How many of the results are failed requests."""
        return sum(error is not None for error in self.error)


_NAMES = tuple(column.name for column in fields(ResultColumns) if column.name != "built_from")
