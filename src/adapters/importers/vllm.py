"""vLLM's serving benchmark results (`vllm bench serve --save-result --save-detailed`, and the legacy
`benchmarks/benchmark_serving.py`): one JSON object per run, several appended one per line with
--append-result. Each request of the per-request arrays becomes a result."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from src.adapters.importers.run_context import RunContext, default_run_name, only_file
from src.adapters.importers.serve_arrays import (
    REQUEST_ARRAYS,
    RunObjects,
    ServeRequest,
    has_request_arrays,
    request_count,
    run_names,
    serve_request,
)
from src.application.ports.result_reader import ImportOptions, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.errors import InvalidResult, MissingImportOption, UnreadableFile

TOOL = "vllm"
LEGACY_FORMAT = "vllm (legacy benchmark_serving.py)"
DATE_FORMAT = "%Y%m%d-%H%M%S"
EXPECTED = (
    'expected a vllm bench serve result: a JSON object per run, opening with its date ("date": "YYYYmmdd-HHMMSS"), '
    "with model_id and the per-request arrays"
)
# Every run's object opens with its date (current and legacy writers alike); JSON allows space anywhere.
_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"date"\s*:\s*"\d{8}-\d{6}"')
# The run settings worth grouping by, besides the --metadata keys.
SETTINGS = (
    "label",
    "backend",
    "endpoint_type",
    "request_rate",
    "burstiness",
    "max_concurrency",
    "ramp_up_strategy",
    "ramp_up_start_rps",
    "ramp_up_end_rps",
)
# The keys vLLM itself writes; any other key holding a text is a --metadata KEY=VALUE.
_OWN_KEYS = frozenset(
    {
        "date",
        "model_id",
        "tokenizer_id",
        "num_prompts",
        *SETTINGS,
        "duration",
        "completed",
        "failed",
        "total_input_tokens",
        "total_output_tokens",
        "request_throughput",
        "request_goodput",
        "request_goodput:",
        "output_throughput",
        "total_token_throughput",
        *REQUEST_ARRAYS,
        "max_output_tokens_per_s",
        "max_concurrent_requests",
        "rtfx",
        "rps_change_events",
    }
)
_SUMMARY_KEY = re.compile(r"\A(?:(?:mean|median|std|p\d+(?:\.\d+)?)_\w+_ms|spec_decode_\w*|diffusion_\w*)\Z")


@dataclass(frozen=True, slots=True)
class _Run:
    """What the first pass learns of one run object, enough to name it and warn before any result."""

    line: int
    requests: int
    detailed: bool
    legacy: bool
    start_times: bool
    latencies: bool
    name: str = ""


class VllmReader(ResultReader):
    """`vllm bench serve` result files, current and legacy.

    Timestamps follow the spec's absolute-time procedure: `date` (naive local time, whole seconds,
    taken after the run) read in `options.timezone` is the run's end; `start_times` (perf_counter)
    place each request relative to the last one to finish; a request's timestamp is its completion,
    a failure's its start. Without `start_times` every request gets the run's start (date - duration).
    Positions count requests across the file; ids are `{run}#{i}`, i counting within the run.
    """

    format = "vllm"

    def recognizes(self, head: bytes, name: str) -> bool:
        return _HEAD.match(head) is not None

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        file = only_file(files, self.format)
        objects = RunObjects(file, self.format, EXPECTED)
        zone, warnings = _zone(options)
        found = list(_first_pass(objects))
        base = options.run or default_run_name(files, self.format)
        runs = [replace(run, name=name) for run, name in zip(found, run_names(base, len(found)), strict=True)]
        if not any(run.detailed for run in runs):
            raise UnreadableFile(self.format, _no_detail(runs[0]))
        for run in runs:
            warnings.extend(_warnings(run, f"run {run.name} (line {run.line}): " if len(runs) > 1 else ""))
        if options.timestamp is not None:
            warnings.append("the timestamp option is ignored: the file's date places the run")
        legacy = any(run.legacy for run in runs if run.detailed)
        return ToolRun(
            TOOL, LEGACY_FORMAT if legacy else self.format, base, _entries(objects, runs, zone, options), warnings
        )


def _first_pass(objects: RunObjects) -> Iterator[_Run]:
    for line, run in objects:
        where = f"line {line}"
        if not isinstance(run.get("date"), str):
            raise UnreadableFile(TOOL, f"{where}: {EXPECTED}")
        _anchor(run, UTC, where)
        yield _Run(
            line=line,
            requests=request_count(run, TOOL, where),
            detailed=has_request_arrays(run),
            legacy="request_goodput:" in run or not any(key in run for key in ("start_times", "latencies", "failed")),
            start_times=isinstance(run.get("start_times"), list),
            latencies=isinstance(run.get("latencies"), list),
        )


def _warnings(run: _Run, prefix: str) -> list[str]:
    if not run.detailed:
        return [f"{prefix}{_no_detail(run)}; its requests are not imported"]
    warnings = []
    if not run.start_times:
        warnings.append(
            f"{prefix}no start_times (vLLM before January 2026): every request is stamped with the "
            "run's start (date - duration); the timestamps are per run, not per request"
        )
    if not run.latencies:
        warnings.append(f"{prefix}no latencies: end-to-end times are ttfts + sum(itls)")
    return warnings


def _no_detail(run: _Run) -> str:
    if run.latencies:
        return (
            "the file holds per-request latencies only, without output tokens, TTFT or errors "
            "(vllm bench serve --save-result without --save-detailed): rerun with --save-detailed"
        )
    return "the file holds only aggregates, no per-request arrays: rerun with --save-result --save-detailed"


def _zone(options: ImportOptions) -> tuple[tzinfo, list[str]]:
    if options.timezone is None:
        return UTC, [
            "vLLM's date is naive local time and no timezone was given: UTC was assumed "
            "(give the benchmark machine's IANA zone as timezone, e.g. Europe/Paris)"
        ]
    try:
        return ZoneInfo(options.timezone), []
    except (ZoneInfoNotFoundError, ValueError):
        raise MissingImportOption(
            "timezone", f"{options.timezone!r} is no IANA time zone name (e.g. UTC, Europe/Paris)"
        ) from None


_EARLIEST_DATE, _LATEST_DATE = datetime(2000, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
"""The run dates read: earlier is a clock gone wrong; later leaves no room to place a run's
requests (up to its duration before the date) within the calendar."""


def _anchor(run: Mapping[str, Any], zone: tzinfo, where: str) -> datetime:
    """The run's end: its `date`, local time in `zone`, in UTC."""
    try:
        local = datetime.strptime(run["date"], DATE_FORMAT)
    except ValueError:
        raise UnreadableFile(TOOL, f"{where}: date {run['date']!r:.40} is not YYYYmmdd-HHMMSS") from None
    try:
        # A date at the calendar's ends cannot be moved to UTC, nor its requests placed around it.
        anchor = local.replace(tzinfo=zone).astimezone(UTC)
        if not _EARLIEST_DATE <= anchor <= _LATEST_DATE:
            raise OverflowError
    except OverflowError:
        raise UnreadableFile(
            TOOL, f"{where}: date {run['date']!r:.40} is no time of a load test (2000 to 9998)"
        ) from None
    return anchor


def _settings(run: Mapping[str, Any]) -> dict[str, object]:
    settings: dict[str, object] = {key: run.get(key) for key in SETTINGS}
    for key, value in run.items():
        if key not in _OWN_KEYS and isinstance(value, str) and not _SUMMARY_KEY.match(key):
            settings[key] = value
    return settings


def _entries(objects: RunObjects, runs: list[_Run], zone: tzinfo, options: ImportOptions) -> Iterator[ReadEntry]:
    position = 0
    for run, (_, document) in zip(runs, objects, strict=True):
        if not run.detailed:
            continue
        model = document.get("model_id")
        context = RunContext(
            TOOL, run.name, options, _settings(document), model if isinstance(model, str) and model else None
        )
        anchor = _anchor(document, zone, f"line {run.line}")
        requests: list[ServeRequest | InvalidResult] = []
        for index in range(run.requests):
            try:
                requests.append(serve_request(document, index))
            except InvalidResult as refused:
                requests.append(refused)
        clock = _RunClock.of(document, anchor, requests)
        for index, request in enumerate(requests, start=1):
            position += 1
            request_id = context.request_id(index)
            if isinstance(request, InvalidResult):
                yield ReadEntry(position, request.at(position, request_id))
                continue
            yield request.entry(context, position, request_id, clock.timestamp(request))


@dataclass(frozen=True, slots=True)
class _RunClock:
    """Places a run's requests in UTC: `anchor` (the date) is the moment `end` on the run's
    perf_counter clock, the latest end of a successful request. Without start_times, `start`."""

    anchor: datetime
    end: float | None
    start: datetime

    @classmethod
    def of(cls, run: Mapping[str, Any], anchor: datetime, requests: list[ServeRequest | InvalidResult]) -> _RunClock:
        served = [request for request in requests if isinstance(request, ServeRequest)]
        ends = [request.end for request in served if request.error is None and request.end is not None]
        # A run where every request failed ends, as far as the file tells, at its last start.
        ends = ends or [request.start for request in served if request.start is not None]
        duration = run.get("duration")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 <= duration < 10**7:
            duration = 0
        return cls(anchor, max(ends) if ends else None, anchor - timedelta(seconds=duration))

    def timestamp(self, request: ServeRequest) -> datetime:
        end = request.end
        if end is None or self.end is None:
            return self.start
        return self.anchor + timedelta(seconds=end - self.end)
