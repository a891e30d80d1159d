"""The per-request arrays of vLLM's serving benchmark (`input_lens`, `output_lens`, `ttfts`, `itls`,
`latencies`, `start_times`, `generated_texts`, `errors`), which sglang's bench_serving, a fork of
it, writes too; and the files both write, one run per JSON object, appended one per line."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from src.adapters.importers.run_context import RunContext, cut_error, document_lines, load_document
from src.application.ports.result_reader import ReadEntry, ToolFile
from src.domain.benchmark_result import derived_time_per_output_token
from src.domain.errors import InvalidResult, UnreadableFile

REQUEST_ARRAYS = (
    "input_lens",
    "output_lens",
    "ttfts",
    "itls",
    "latencies",
    "start_times",
    "queue_times",
    "generated_texts",
    "errors",
)
# Without these a request has no output tokens, no TTFT and no end: only aggregates are left.
DETAILED_ARRAYS = ("output_lens", "ttfts")
MILLISECONDS_PER_SECOND = 1000
_RUN_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_PER_REQUEST = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass(frozen=True, slots=True)
class ServeRequest:
    """One request of a run, times in ms. A failed request (`error`) keeps only its input tokens and
    its start: the tools write 0.0 latencies and 0 output tokens for it, which are no measurements."""

    error: str | None
    prompt_token_count: int | None
    token_count: int | None
    time_to_first_token: float | None
    total_generation_time: float | None
    generated_text: str
    start: float | None
    """`start_times[i]`: seconds on the tool's monotonic clock (perf_counter), never an epoch."""

    @property
    def time_per_output_token(self) -> float | None:
        """Our TPOT, (e2e - TTFT) / (tokens - 1); never from `itls`, whose gaps are per chunk."""
        return derived_time_per_output_token(self.total_generation_time, self.time_to_first_token, self.token_count)

    @property
    def end(self) -> float | None:
        """When the request ended on the tool's monotonic clock: start + e2e; the start for a failure."""
        if self.start is None or self.total_generation_time is None:
            return self.start
        return self.start + self.total_generation_time / MILLISECONDS_PER_SECOND

    def entry(self, context: RunContext, position: int, request_id: str, timestamp: datetime) -> ReadEntry:
        """This request as a result of the run `context` describes, or the domain's refusal."""
        return context.entry(
            position,
            request_id=request_id,
            timestamp=timestamp,
            token_count=self.token_count,
            time_to_first_token=self.time_to_first_token,
            time_per_output_token=self.time_per_output_token,
            total_generation_time=self.total_generation_time,
            prompt_token_count=self.prompt_token_count,
            generated_text=self.generated_text,
            error=self.error,
        )


def request_count(run: Mapping[str, Any], file_format: str, where: str) -> int:
    """How many requests a run's arrays hold; UnreadableFile when an array is no array or the
    arrays disagree on the count (a request cannot be told from its neighbour's values then)."""
    lengths: dict[str, int] = {}
    for name in REQUEST_ARRAYS:
        if name not in run or run[name] is None or isinstance(run[name], msgspec.Raw):
            continue  # absent, or left unread by decode_run (itls beside latencies)
        if not isinstance(run[name], list):
            raise UnreadableFile(file_format, f"{where}: {name} must be an array, one value per request")
        lengths[name] = len(run[name])
    if len(set(lengths.values())) > 1:
        counts = ", ".join(f"{name} {length}" for name, length in lengths.items())
        raise UnreadableFile(file_format, f"{where}: the per-request arrays differ in length ({counts})")
    return next(iter(lengths.values()), 0)


def has_request_arrays(run: Mapping[str, Any]) -> bool:
    """Whether a run kept its per-request detail (vLLM --save-detailed, sglang --output-details)."""
    return all(isinstance(run.get(name), list) for name in DETAILED_ARRAYS)


def serve_request(run: Mapping[str, Any], index: int) -> ServeRequest:
    """The request at 0-based `index`; InvalidResult naming our field when a value is of the wrong kind.

    e2e is `latencies[i]`, else `ttfts[i] + sum(itls[i])` (what vLLM's own timeline uses; equal to
    the latency for its OpenAI backends). A request failed iff `errors[i]` is a non-empty text.
    """
    error = cut_error(_at(run, "errors", index))
    prompt_tokens = _at(run, "input_lens", index)
    start = _seconds(run, "start_times", index, "timestamp")
    if error is not None:
        return ServeRequest(error, prompt_tokens, None, None, None, "", start)
    first = _seconds(run, "ttfts", index, "time_to_first_token")
    latency = _seconds(run, "latencies", index, "total_generation_time")
    if latency is None and first is not None and isinstance(run.get("itls"), list):
        gaps = _itls(run["itls"][index])
        if not isinstance(gaps, list) or not all(_is_number(gap) for gap in gaps):
            raise InvalidResult("total_generation_time", f"itls[{index}] must be an array of seconds")
        latency = _measured(first + math.fsum(gaps), f"ttfts[{index}] + sum(itls[{index}])", "total_generation_time")
    text = _at(run, "generated_texts", index)
    return ServeRequest(
        None,
        prompt_tokens,
        _at(run, "output_lens", index),
        _milliseconds(first),
        _milliseconds(latency),
        text if isinstance(text, str) else "",
        start,
    )


def _itls(gaps: object) -> object:
    """A request's `itls`, decoded now if decode_run left it as JSON text; None if that is no JSON."""
    if not isinstance(gaps, msgspec.Raw):
        return gaps
    try:
        return msgspec.json.decode(gaps)
    except msgspec.DecodeError:
        return None


def decode_run(content: bytes | memoryview) -> Any:
    """A run object as msgspec.json.decode reads it, except for `itls`, whose chunk gaps (about 200
    a request, twice the file's size as Python floats) are read only without `latencies`, and then
    one request at a time: `itls` stays undecoded JSON text (msgspec.Raw, a view into `content`)
    beside `latencies`, and is else an array of one undecoded text per request. Anything but an
    object decodes as usual. Raises msgspec.DecodeError as msgspec does."""
    try:
        fields = _RUN_FIELDS.decode(content)
    except msgspec.ValidationError:
        return msgspec.json.decode(content)  # no object: the caller says what a run is
    run: dict[str, Any] = {
        name: value if name == "itls" else msgspec.json.decode(value) for name, value in fields.items()
    }
    gaps = run.get("itls")
    if isinstance(gaps, msgspec.Raw) and not isinstance(run.get("latencies"), list):
        try:
            run["itls"] = _PER_REQUEST.decode(gaps)
        except msgspec.ValidationError:
            run["itls"] = msgspec.json.decode(gaps)  # no array: refused as such
    return run


def _at(run: Mapping[str, Any], name: str, index: int) -> Any:
    values = run.get(name)
    return values[index] if isinstance(values, list) else None


MOST_SECONDS = 10**9
"""The largest reading of a request's clock or duration taken as a measurement (31 years): beyond
it a start time or latency is no load test's, and placing the run's requests in time by it would
overflow the calendar."""


def _seconds(run: Mapping[str, Any], name: str, index: int, field: str) -> float | None:
    value = _at(run, name, index)
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value):
        raise InvalidResult(field, f"{name}[{index}] must be a finite number of seconds, got {value!r:.40}")
    return _measured(float(value), f"{name}[{index}]", field)


def _measured(seconds: float, name: str, field: str) -> float:
    """`seconds`, or InvalidResult when it lies beyond MOST_SECONDS either way."""
    if abs(seconds) > MOST_SECONDS:
        raise InvalidResult(field, f"{name} is {seconds:.6g} s, more than {MOST_SECONDS:.0e} s: no load test's")
    return seconds


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _milliseconds(seconds: float | None) -> float | None:
    # Rounded to the nanosecond: the tools' clocks resolve no finer, and 0.1843 s stays 184.3 ms.
    return None if seconds is None else round(seconds * MILLISECONDS_PER_SECOND, 6)


class RunObjects:
    """The runs of a file that holds one JSON object per run: a single object (also pretty-printed),
    or, as vLLM's --append-result and sglang's --output-file append them, one object per line, read
    one line at a time and decoded by decode_run (the chunk gaps stay JSON text until needed).
    Iterating yields (line number, object) and may be repeated; a file of one run is read and
    decoded once. A line that is no JSON object makes the file unreadable (an append cut short),
    as does an empty file. `expected` says what a run is, for the refusal of a file of another format."""

    def __init__(self, file: ToolFile, file_format: str, expected: str, *, lenient: bool = False) -> None:
        self._file = file
        self._format = file_format
        self._expected = expected
        self._lenient = lenient
        self._only: tuple[int, dict[str, Any]] | None = None

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self._only is not None:
            yield self._only
            return
        runs, first = 0, None
        for number, value, problem in document_lines(self._file, lenient=self._lenient, decode=decode_run):
            if problem is not None and not runs:
                # A first line that is no JSON on its own: one object written across lines, or cut short.
                self._only = (1, self._whole())
                yield self._only
                return
            if problem is not None:
                raise UnreadableFile(self._format, f"line {number} {problem} (an appended run cut short?)")
            if not isinstance(value, dict):
                raise UnreadableFile(self._format, f"line {number}: {self._expected}")
            runs += 1
            first = (number, value) if runs == 1 else None  # kept while it may be the only one
            yield number, value
        if not runs:
            raise UnreadableFile(self._format, "the file holds no run: it is empty")
        self._only = first

    def _whole(self) -> dict[str, Any]:
        try:
            document = load_document(self._file, self._format, lenient=self._lenient, decode=decode_run)
        except UnreadableFile as unreadable:
            raise UnreadableFile(self._format, f"{unreadable.reason}; {self._expected}") from None
        if not isinstance(document, dict):
            raise UnreadableFile(self._format, self._expected)
        return document


def run_names(base: str, count: int) -> list[str]:
    """The runs' names in a file of `count` runs: `base` for one, `base-1` ... `base-count` for more."""
    return [base] if count == 1 else [f"{base}-{k}" for k in range(1, count + 1)]
