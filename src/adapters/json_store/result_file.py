"""Reading and validating a result file in the seed format: {"benchmarking_results": [...]}.

Two readers give the same answer. The fast one decodes straight into typed records with msgspec,
whose constraints mirror the domain's rules (a property test holds the two together). Whenever it
refuses anything, the domain itself validates every record: it is the authority on what is valid,
and it names the first bad record exactly.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import repeat
from operator import attrgetter, is_not
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from src.domain.benchmark_result import (
    MAX_ERROR_LENGTH,
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS,
    MAX_MILLISECONDS,
    MAX_MODEL_LENGTH,
    MAX_REQUEST_ID_LENGTH,
    MAX_TOKEN_COUNT,
    RESERVED_REQUEST_IDS,
    STORED_METRICS,
    BenchmarkResult,
)
from src.domain.errors import DomainError, DuplicateRequestId, InvalidResult, InvalidTimestamp
from src.domain.timestamps import instants_in_microseconds

T = TypeVar("T")
RESULTS_KEY = "benchmarking_results"
_UTF8_BOM = b"\xef\xbb\xbf"
_ESCAPED_NUL = re.compile(rb"\\u0000")

Milliseconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_MILLISECONDS)]
TokenCount = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKEN_COUNT)]
LabelKey = Annotated[str, msgspec.Meta(pattern=f"^[^:]{{1,{MAX_LABEL_KEY_LENGTH}}}$")]
LabelValue = Annotated[str, msgspec.Meta(max_length=MAX_LABEL_VALUE_LENGTH)]


class _Record(msgspec.Struct, gc=False):
    # gc=False: a million records hold no reference cycles, and tracking them doubles decode time.
    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REQUEST_ID_LENGTH)]
    timestamp: datetime
    # An absent or null metric is undefined (None). What a type cannot say (a success has its
    # token_count and total_generation_time; no TTFT exceeds its total) is checked on the columns.
    token_count: TokenCount | None = None
    time_to_first_token: Milliseconds | None = None
    time_per_output_token: Milliseconds | None = None
    total_generation_time: Milliseconds | None = None
    prompt_token_count: TokenCount | None = None
    error: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ERROR_LENGTH)] | None = None
    prompt_text: str = ""
    generated_text: str = ""
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MODEL_LENGTH)] | None = None
    # UNSET, not {}, when absent: a million empty dicts would cost startup time and memory. An
    # explicit null is no object, so it is refused, as the domain refuses it.
    labels: Annotated[dict[LabelKey, LabelValue], msgspec.Meta(max_length=MAX_LABELS)] | msgspec.UnsetType = (
        msgspec.UNSET
    )

    def as_result(self) -> BenchmarkResult:
        return BenchmarkResult(
            request_id=self.request_id,
            token_count=self.token_count,
            time_to_first_token=self.time_to_first_token,
            time_per_output_token=self.time_per_output_token,
            total_generation_time=self.total_generation_time,
            timestamp=self.timestamp,
            prompt_text=self.prompt_text,
            generated_text=self.generated_text,
            model=self.model,
            labels=self.labels or {},
            prompt_token_count=self.prompt_token_count,
            error=self.error,
        )


class _ResultFile(msgspec.Struct, gc=False):
    benchmarking_results: list[_Record]


class ResultFileError(Exception):
    """The data file cannot be served: it is missing, unreadable, malformed or holds a bad record."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ResultFileChanged(ResultFileError):
    """The file no longer holds the bytes it held when it was first read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "changed since the server started; restart it to serve the new file")


@dataclass(frozen=True)
class ResultColumns:
    """Every result, column by column, in file order: timestamps in UTC microseconds, one column
    per metric in STORED_METRICS order (NaN where a result leaves it undefined), and which results
    failed (None when none did); `digest` is the SHA-256 of the file's bytes they came from."""

    timestamps: npt.NDArray[np.int64]
    metrics: tuple[npt.NDArray[np.float64], ...]
    digest: bytes = b""
    failed: npt.NDArray[np.bool_] | None = None


Record = _Record | BenchmarkResult
"""A validated record: typed by msgspec, or built by the domain when the fast reader refused the file."""


def as_result(record: Record) -> BenchmarkResult:
    return record if isinstance(record, BenchmarkResult) else record.as_result()


def read_result_file(path: Path) -> ResultColumns:
    """The file's results as columns; the records themselves are freed as soon as they are read."""
    columns, digest = _read(path, _columns)
    return replace(columns, digest=digest)


def read_result_records(path: Path, digest: bytes | None = None) -> Sequence[Record]:
    """The file's results as records, validated exactly as read_result_file validates them.

    With `digest` (a ResultColumns.digest), the file must still hold those very bytes; otherwise
    ResultFileChanged is raised, whatever its size and modification time say.
    """
    records, found = _read(path, _checked)
    if digest is not None and found != digest:
        raise ResultFileChanged(path)
    return records


def _read(path: Path, shape: Callable[[Sequence[Record]], T]) -> tuple[T, bytes]:
    """The file read into `shape`, and the SHA-256 digest of its bytes."""
    with _mapped(path) as content, ThreadPoolExecutor(max_workers=1) as hashing:
        # hashlib releases the GIL on large inputs: the digest is computed on another core while
        # msgspec decodes, so it costs startup almost no time.
        digest = hashing.submit(lambda: hashlib.sha256(content).digest())
        start = len(_UTF8_BOM) if content[: len(_UTF8_BOM)] == _UTF8_BOM else 0
        with content[start:] as document:
            return _read_document(path, document, shape), digest.result()


def _read_document(path: Path, document: memoryview, shape: Callable[[Sequence[Record]], T]) -> T:
    try:
        try:
            if _ESCAPED_NUL.search(document):
                # NUL can only reach a string through this escape; msgspec has no cheap check for it.
                raise msgspec.ValidationError("a string may hold NUL")
            return shape(msgspec.json.decode(document, type=_ResultFile).benchmarking_results)
        except (msgspec.MsgspecError, UnicodeDecodeError, InvalidTimestamp, RecursionError):
            # msgspec refused the file, or accepted an instant the domain refuses: the domain decides.
            return shape(_validate_with_domain(path, bytes(document)))
    except DomainError as error:
        raise ResultFileError(path, str(error)) from None


@contextmanager
def _mapped(path: Path) -> Iterator[memoryview]:
    """The file's bytes, mapped rather than copied: the decoder reads them once, straight from the page cache."""
    with ExitStack() as opened:
        try:
            file = opened.enter_context(path.open("rb"))
            empty = os.fstat(file.fileno()).st_size == 0
            # mmap refuses an empty file; an empty file is simply not JSON.
            mapping = b"" if empty else opened.enter_context(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ))
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise ResultFileError(path, f"cannot read the file: {reason}") from None
        with memoryview(mapping) as content:
            yield content


def _validate_with_domain(path: Path, raw: bytes) -> list[BenchmarkResult]:
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:
        raise ResultFileError(path, "not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ResultFileError(
            path, f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        # No result nests more than two levels; a document thousands deep is refused, not a crash.
        raise ResultFileError(path, "arrays or objects are nested too deeply to be a result file") from None
    if not isinstance(document, dict) or not isinstance(document.get(RESULTS_KEY), list):
        raise ResultFileError(path, f'expected a JSON object with a "{RESULTS_KEY}" array')
    results = []
    for index, record in enumerate(document[RESULTS_KEY]):
        try:
            results.append(BenchmarkResult.from_mapping(record))
        except InvalidResult as error:
            request_id = record.get("request_id") if isinstance(record, dict) else None
            raise ResultFileError(path, str(error.at(index, request_id))) from None
    return results


def _checked(records: Sequence[Record]) -> Sequence[Record]:
    _columns(records)  # the same checks: distinct ids, instants inside the calendar
    return records


def _columns(records: Sequence[Record]) -> ResultColumns:
    _refuse_unreadable_ids(records)
    _refuse_duplicate_ids(records)
    # The timestamps first: their list of a million Python ints is gone before the metrics take memory.
    timestamps = np.array(instants_in_microseconds(map(attrgetter("timestamp"), records)), dtype=np.int64)
    # None (an undefined metric) becomes NaN.
    metrics = tuple(
        np.fromiter(map(attrgetter(metric), records), dtype=np.float64, count=len(records)) for metric in STORED_METRICS
    )
    failed = _failures(records)
    _refuse_impossible_metrics(dict(zip(STORED_METRICS, metrics, strict=True)), failed)
    return ResultColumns(timestamps, metrics, failed=failed)


def _failures(records: Sequence[Record]) -> npt.NDArray[np.bool_] | None:
    """Which records are failed results; None when none is, as in most files."""
    # Every error is a non-empty string, so any() finds one without a Python call per record.
    if not any(map(attrgetter("error"), records)):
        return None
    errors = map(attrgetter("error"), records)
    return np.fromiter(map(is_not, errors, repeat(None)), dtype=np.bool_, count=len(records))


def _refuse_impossible_metrics(
    metrics: dict[str, npt.NDArray[np.float64]], failed: npt.NDArray[np.bool_] | None
) -> None:
    # What msgspec's types cannot say, a few vectorised comparisons can; the domain's reader then
    # names the record. NaN (undefined) compares False, so only values that are there are compared.
    tokens, first, last = (metrics[name] for name in ("token_count", "time_to_first_token", "total_generation_time"))
    incomplete = np.isnan(tokens) | np.isnan(last)
    if failed is not None:
        incomplete &= ~failed
    if incomplete.any():
        raise msgspec.ValidationError("a successful result misses its token_count or total_generation_time")
    if np.any(first > last):
        raise msgspec.ValidationError("a time_to_first_token exceeds its total_generation_time")


def _refuse_unreadable_ids(records: Sequence[Record]) -> None:
    # msgspec's constraints cannot say "one path segment, not a reserved name" cheaply; one pass
    # over the ids can, and the domain's reader then names the record exactly.
    for request_id in map(attrgetter("request_id"), records):
        if "/" in request_id or request_id in RESERVED_REQUEST_IDS:
            raise msgspec.ValidationError(f"request_id {request_id!r} cannot be read back")


def _refuse_duplicate_ids(records: Sequence[_Record | BenchmarkResult]) -> None:
    # Equal ids have equal hashes, and sorting a million hashes in numpy costs less than a set of
    # a million strings; the ids themselves are compared only when two hashes are equal.
    hashes = np.fromiter(map(hash, map(attrgetter("request_id"), records)), dtype=np.int64, count=len(records))
    hashes.sort()
    if not np.any(hashes[1:] == hashes[:-1]):
        return
    first_seen: dict[str, int] = {}
    for index, request_id in enumerate(map(attrgetter("request_id"), records)):
        if request_id in first_seen:
            raise DuplicateRequestId(request_id, first_seen[request_id], index)
        first_seen[request_id] = index
