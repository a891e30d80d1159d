"""What every reader shares: building a run's results (labels, model, derived ids, refusals),
reading JSON documents and lines with clear refusals, and instants from the tools' clocks."""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from src.adapters.json_refusals import why_not_json
from src.application.ports.result_reader import MAX_RUN_LENGTH, ImportOptions, ReadEntry, ToolFile
from src.domain.benchmark_result import (
    LABEL_SEPARATOR,
    MAX_ERROR_LENGTH,
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    BenchmarkResult,
    storable_text,
)
from src.domain.errors import InvalidResult, UnreadableFile, shown

# Instants a load test can have run at. An epoch reading before 2000 is a monotonic clock
# (perf_counter, monotonic) read as wall time, which vLLM's start_times invite (vLLM PR #32667).
_EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRUNCATED = "... (cut)"
_BLANK = re.compile(rb"\s*")
_GIVE_BACK: int | None = getattr(mmap, "MADV_DONTNEED", None)  # where the platform has madvise

Decode = Callable[[bytes | memoryview], Any]
"""Turns one JSON text (a whole file, or a line of it) into Python values; raises msgspec.DecodeError."""


class RunContext:
    """One run's shared facts, and the builder of its results.

    Every result carries the labels `run` and `tool`, the run's settings the file records
    (`settings`), and the user's labels (which win); its model is the file's, else the user's.
    """

    def __init__(
        self,
        tool: str,
        run: str,
        options: ImportOptions,
        settings: Mapping[str, object] | None = None,
        model: str | None = None,
    ) -> None:
        self.tool = tool
        self.run = run
        self.model = model or options.model
        self.labels = {**labels_of(settings or {}), "run": run, "tool": tool, **dict(options.labels)}

    def request_id(self, position: int) -> str:
        """A request id for a tool that writes none: the run and the position, stable across imports."""
        return f"{self.run}#{position}"

    def entry(
        self,
        position: int,
        *,
        timestamp: datetime,
        request_id: str | None = None,
        token_count: int | None = None,
        time_to_first_token: float | None = None,
        time_per_output_token: float | None = None,
        total_generation_time: float | None = None,
        prompt_token_count: int | None = None,
        prompt_text: str | None = None,
        generated_text: str | None = None,
        error: str | None = None,
        labels: Mapping[str, object] | None = None,
        model: str | None = None,
    ) -> ReadEntry:
        """The request at `position` (1-based) as a result, or the domain's reason for refusing it.

        Times are milliseconds. `error` is the tool's message (None or "" for a success), cut to
        the domain's longest. `labels` are this request's own (e.g. a status group).
        """
        identity = request_id or self.request_id(position)
        try:
            result = BenchmarkResult(
                request_id=identity,
                token_count=token_count,
                time_to_first_token=time_to_first_token,
                time_per_output_token=time_per_output_token,
                total_generation_time=total_generation_time,
                timestamp=timestamp,
                prompt_text=prompt_text or "",
                generated_text=generated_text or "",
                model=model or self.model,
                labels={**self.labels, **labels_of(labels or {})},
                prompt_token_count=prompt_token_count,
                error=cut_error(error),
            )
        except InvalidResult as refused:
            return ReadEntry(position, refused.at(position, identity))
        return ReadEntry(position, result)

    def refused(self, position: int, field: str | None, reason: str, request_id: str | None = None) -> ReadEntry:
        """A request the reader itself refuses (an impossible clock, a value of the wrong kind)."""
        return ReadEntry(position, InvalidResult(field, reason, index=position, request_id=request_id))


def cut_error(error: object) -> str | None:
    """A tool's error as the domain keeps it: None for no error, text cut to MAX_ERROR_LENGTH."""
    if error is None or error == "":
        return None
    text = error if isinstance(error, str) else json.dumps(error, ensure_ascii=False)
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - len(_TRUNCATED)] + _TRUNCATED


def labels_of(settings: Mapping[str, object]) -> dict[str, str]:
    """Settings as labels: keys without the filter separator, values as text (numbers as JSON
    writes them, so 8 stays "8" and 0.5 "0.5"); nulls and empty texts are left out."""
    labels = {}
    for key, value in settings.items():
        if value is None or value == "":
            continue
        text = value if isinstance(value, str) else _compact(value)
        name = str(key).replace(LABEL_SEPARATOR, "_")[:MAX_LABEL_KEY_LENGTH]
        if name:
            labels[name] = text[:MAX_LABEL_VALUE_LENGTH]
    return labels


def _compact(value: object) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def default_run_name(files: Sequence[ToolFile], file_format: str) -> str:
    """The run's name when the user gives none: the first file's name without its extensions, or,
    for a body without a name, the format and the start of the content's SHA-256 (stable)."""
    for file in files:
        # A file's name is the user's: only a storable stem short enough for `{run}#{position}` ids names a run.
        stem = Path(file.name).name.split(".")[0]
        if stem and len(stem) <= MAX_RUN_LENGTH and storable_text(stem):
            return stem
    digest = hashlib.sha256()
    with files[0].path.open("rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return f"{file_format}-{digest.hexdigest()[:12]}"


def load_document(
    file: ToolFile,
    file_format: str,
    *,
    lenient: bool = False,
    decode: Decode = msgspec.json.decode,
) -> Any:
    """A whole JSON document, decoded by `decode`. `lenient` reads it with the standard library
    instead, which also takes the NaN and Infinity tokens that Python's json.dumps writes and
    strict JSON excludes (sglang writes a request rate of inf so).

    Raises UnreadableFile naming the format when the file is not JSON (truncated, say).
    """
    raw = file.path.read_bytes()
    try:
        return json.loads(raw) if lenient else decode(raw)
    except (msgspec.DecodeError, ValueError) as error:
        raise UnreadableFile(file_format, f"{file.name or 'the body'} is not JSON ({_first_line(error)})") from None
    except RecursionError:
        raise UnreadableFile(file_format, "arrays or objects are nested too deeply") from None


def json_lines(file: ToolFile, *, lenient: bool = False) -> Iterator[tuple[int, Any | None, str | None]]:
    """Each non-blank line as (line number, value, None), or (line number, None, why it is no JSON),
    reading one line at a time."""
    yield from _decoded_lines(numbered_lines(file), lenient, msgspec.json.decode)


def numbered_lines(file: ToolFile) -> Iterator[tuple[int, bytes]]:
    """Each line of the file (newline included, blank ones too) with its 1-based number."""
    with file.path.open("rb") as content:
        yield from enumerate(content, start=1)


def decoded_lines(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, Any | None, str | None]]:
    """As json_lines, for lines already read (numbered_lines' pairs)."""
    return _decoded_lines(lines, False, msgspec.json.decode)


def document_lines(
    file: ToolFile, *, lenient: bool = False, decode: Decode = msgspec.json.decode
) -> Iterator[tuple[int, Any | None, str | None]]:
    """As json_lines, for files of a few long lines, each a JSON document, decoded by `decode`
    from a view into the file mapped in memory: a line as long as the file (a document written
    on one line) is never copied, where reading it as a line would hold it twice. The pages of
    earlier lines are given back as each line is reached, so that memory follows one line."""

    def lines() -> Iterator[tuple[int, memoryview]]:
        with file.path.open("rb") as content:
            if os.fstat(content.fileno()).st_size == 0:
                return
            mapped = mmap.mmap(content.fileno(), 0, access=mmap.ACCESS_READ)
        view, start, number = memoryview(mapped), 0, 1
        while start < len(mapped):
            end = mapped.find(b"\n", start)
            end = len(mapped) if end < 0 else end + 1
            behind = start - start % mmap.PAGESIZE
            if behind and _GIVE_BACK is not None:
                # The mapping is read-only: a page read again comes back from the file.
                mapped.madvise(_GIVE_BACK, 0, behind)
            yield number, view[start:end]
            start, number = end, number + 1

    yield from _decoded_lines(lines(), lenient, decode)


def _decoded_lines(
    lines: Iterable[tuple[int, bytes | memoryview]], lenient: bool, decode: Decode
) -> Iterator[tuple[int, Any | None, str | None]]:
    for number, line in lines:
        try:
            yield number, json.loads(bytes(line)) if lenient else decode(line), None
        except (msgspec.DecodeError, ValueError) as error:
            if _BLANK.fullmatch(line):
                continue
            # Explained as POST /results explains it, but a whole document (a line as long as
            # the file) is not read a second time.
            if isinstance(error, msgspec.DecodeError) and len(line) <= _EXPLAINED_BYTES:
                reason = why_not_json(bytes(line), error)
            else:
                reason = _first_line(error)
            yield number, None, f"is not valid JSON: {reason}"
        except RecursionError:
            yield number, None, "is not valid JSON: arrays or objects are nested too deeply"


_EXPLAINED_BYTES = 1 << 20
"""Lines up to this long are read again, when refused, to say why they are not JSON."""


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def epoch_seconds(value: float) -> datetime:
    """An instant written as seconds since 1970-01-01T00:00:00Z (time.time()), to the microsecond.

    Raises ValueError for a reading no load test can have: before 2000 (a monotonic clock read
    as wall time) or outside the calendar.
    """
    try:
        return _plausible(_EPOCH + timedelta(seconds=value))
    except (OverflowError, ValueError) as error:
        raise ValueError(f"{value} s after 1970-01-01 is no instant of a load test: {error}") from None


def epoch_nanoseconds(value: int) -> datetime:
    """An instant written as nanoseconds since the epoch (time.time_ns()), to the microsecond
    (half up); ValueError as epoch_seconds."""
    microseconds, remainder = divmod(value, 1000)
    try:
        return _plausible(_EPOCH + timedelta(microseconds=microseconds + (remainder >= 500)))
    except (OverflowError, ValueError) as error:
        raise ValueError(f"{value} ns after 1970-01-01 is no instant of a load test: {error}") from None


def _plausible(moment: datetime) -> datetime:
    if moment < _EARLIEST_PLAUSIBLE:
        raise ValueError(f"{moment:%Y-%m-%dT%H:%M:%SZ} is before 2000: a monotonic clock read as wall time")
    return moment


def only_file(files: Sequence[ToolFile], file_format: str) -> ToolFile:
    """The one file of a format that writes a run to a single file; UnreadableFile for more or none."""
    if len(files) != 1:
        raise UnreadableFile(file_format, f"takes one file, got {len(files)}")
    return files[0]


# What the tools' readers share beyond a run's results: the leading keys that recognise a file,
# numbers checked before arithmetic (a string times 1000 is no duration), and run names for
# tools whose default file name says nothing about the run.

_BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"


def opens_with(head: bytes, *pattern: bytes) -> bool:
    """Whether `head` opens with `pattern`, JSON punctuation and keys in order, any whitespace
    around them (compact or indented writers alike): opens_with(head, b'{', b'"date"', b':')."""
    expression = rb"\s*".join(re.escape(part) for part in pattern)
    return re.match(expression, head.lstrip(_BOM_AND_SPACE)) is not None


def number(value: object, field: str) -> float | None:
    """A tool's optional number as a float: None for null; InvalidResult naming `field` for a
    value that is no finite number (a string, a boolean, NaN)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidResult(field, f"must be a number, got {shown(value)}")
    return float(value)


def count(value: object, field: str) -> int | None:
    """A tool's optional token count: None for null, an integer (6.0 read as 6), else InvalidResult."""
    amount = number(value, field)
    if amount is None:
        return None
    if not amount.is_integer():
        raise InvalidResult(field, f"must be a whole number of tokens, got {shown(value)}")
    return int(amount)


def run_name(files: Sequence[ToolFile], file_format: str, options: ImportOptions, generic: Sequence[str] = ()) -> str:
    """The user's run name, else the first file's stem, unless that stem is the tool's default
    file name (`generic`, e.g. profile_export), which names every run alike: then the format and
    the start of the content's SHA-256, stable across imports of the same file."""
    if options.run:
        return options.run
    stem = Path(files[0].name).name.split(".")[0]
    if stem in generic:
        return default_run_name([ToolFile("", files[0].path)], file_format)
    return default_run_name(files, file_format)


def as_object(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: for optional sections of a tool's file."""
    return value if isinstance(value, dict) else {}
