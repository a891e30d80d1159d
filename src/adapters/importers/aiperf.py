"""AIPerf (ai-dynamo/aiperf): `profile_export.jsonl`, one record per request (metadata, metrics
with their display units, error), optionally with `profile_export_aiperf.json`, whose
`input_config` names the model and the run's settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import msgspec

from src.adapters.importers.run_context import (
    RunContext,
    as_object,
    count,
    epoch_nanoseconds,
    json_lines,
    load_document,
    number,
    opens_with,
    run_name,
)
from src.application.ports.result_reader import HEAD_BYTES, ImportOptions, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.benchmark_result import derived_time_per_output_token
from src.domain.errors import InvalidResult, UnreadableFile, shown

PROFILING = "profiling"
_TAIL_BLOCK = 64 * 1024
# Milliseconds per unit of a time metric; AIPerf writes display units (ms by default).
_MILLISECONDS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "us": 1e-3, "µs": 1e-3, "ns": 1e-6}
_TOKENS = ("tokens", "", None)
_EXPECTED = (
    "expected AIPerf's profile_export.jsonl (one JSON record per line with metadata, metrics and error), "
    "optionally with profile_export_aiperf.json"
)
OUTPUT_SEQUENCE_LENGTH = (
    "token_count is AIPerf's output_sequence_length: the output tokens including reasoning tokens "
    "(output_token_count excludes them)"
)


class AiperfReader(ResultReader):
    """Positions are line numbers of profile_export.jsonl, read one line at a time. Only records
    of the profiling phase are results; warmup records are skipped and counted in a warning."""

    format = "aiperf"

    def recognizes(self, head: bytes, name: str) -> bool:
        # model_dump_json of MetricRecordInfo: metadata first, and in it session_num first.
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
        return opens_with(first, b"{", b'"metadata"', b":", b"{") and b'"request_start_ns"' in first

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        if not 1 <= len(files) <= 2:
            raise UnreadableFile(
                self.format, f"takes the records and optionally the aggregates, got {len(files)} files"
            )
        records = [file for file in files if self._holds_records(file)]
        if len(records) != 1:
            raise UnreadableFile(self.format, _EXPECTED if not records else "takes one profile_export.jsonl, got two")
        _refuse_truncated(records[0], self.format)
        others = next((file for file in files if file is not records[0]), None)
        config = _input_config(others, self.format) if others is not None else {}
        run = run_name(records, self.format, options, generic=("profile_export",))
        context = RunContext("aiperf", run, options, _settings(config), _model(config))
        warnings = [OUTPUT_SEQUENCE_LENGTH]
        if others is not None and not config:
            warnings.append(
                f"{others.name or 'the aggregate file'} holds no input_config: no model or settings from it"
            )
        return ToolRun("aiperf", self.format, run, _entries(records[0], context, warnings), warnings)

    def _holds_records(self, file: ToolFile) -> bool:
        with file.path.open("rb") as content:
            head = content.read(HEAD_BYTES)
        return self.recognizes(head, file.name)


def _refuse_truncated(file: ToolFile, file_format: str) -> None:
    """Refuse a file whose last line is cut short (a run killed while writing, a partial copy):
    read from the end, so a large file costs one block, not a pass."""
    with file.path.open("rb") as content:
        end = content.seek(0, 2)
        tail = b""
        while end > 0 and b"\n" not in tail.rstrip():
            start = max(0, end - _TAIL_BLOCK)
            content.seek(start)
            tail = content.read(end - start) + tail
            end = start
    last = tail.rstrip().rsplit(b"\n", 1)[-1]
    try:
        msgspec.json.decode(last)
    except msgspec.DecodeError:
        raise UnreadableFile(
            file_format, f"the last line of {file.name or 'the file'} is cut short: the file is truncated"
        ) from None


def _input_config(file: ToolFile, file_format: str) -> Mapping[str, Any]:
    document = load_document(file, file_format)
    if not isinstance(document, dict):
        raise UnreadableFile(
            file_format, f"{file.name or 'the second file'} is not AIPerf's aggregate object; {_EXPECTED}"
        )
    config = document.get("input_config")
    return config if isinstance(config, dict) else {}


def _model(config: Mapping[str, Any]) -> str | None:
    """The model the user benchmarked: endpoint.model_names (2025) or models.items[].name (2026)."""
    endpoint = as_object(config.get("endpoint"))
    models = config.get("models")
    candidates: list[Any] = [
        *(endpoint.get("model_names") or []),
        *(config.get("model_names") or []),
        *((models.get("items") or []) if isinstance(models, dict) else (models or [])),
    ]
    for candidate in candidates:
        name = candidate.get("name") if isinstance(candidate, dict) else candidate
        if isinstance(name, str) and name:
            return name
    return None


def _settings(config: Mapping[str, Any]) -> dict[str, object]:
    """The run's settings worth grouping by: endpoint type, streaming, and the load generator's
    concurrency and request rate."""
    endpoint, loadgen = as_object(config.get("endpoint")), as_object(config.get("loadgen"))
    settings = {
        "endpoint_type": endpoint.get("type"),
        "streaming": endpoint.get("streaming"),
        "concurrency": loadgen.get("concurrency"),
        "request_rate": loadgen.get("request_rate"),
    }
    return {key: value for key, value in settings.items() if isinstance(value, (str, int, float))}


def _entries(file: ToolFile, context: RunContext, warnings: list[str]) -> Iterator[ReadEntry]:
    skipped: dict[str, int] = {}
    for line, value, problem in json_lines(file):
        if problem is not None:
            yield ReadEntry(line, InvalidResult(None, problem, index=line))
            continue
        record = as_object(value)
        metadata = record.get("metadata")
        if not isinstance(metadata, dict):
            yield context.refused(line, None, "is not an AIPerf record (an object with metadata, metrics and error)")
            continue
        phase = metadata.get("benchmark_phase", PROFILING)
        if phase != PROFILING:
            skipped[str(phase)] = skipped.get(str(phase), 0) + 1
            continue
        request_id = _request_id(metadata, context)
        try:
            yield _entry(line, record, metadata, request_id, context)
        except InvalidResult as refused:
            yield ReadEntry(line, refused.at(line, request_id))
    for phase, amount in skipped.items():
        warnings.append(f"skipped {amount} {phase} record(s): only the profiling phase's records are imported")


def _request_id(metadata: Mapping[str, Any], context: RunContext) -> str | None:
    identity = metadata.get("x_request_id")
    if isinstance(identity, str) and identity:
        return identity
    session = metadata.get("session_num")
    if isinstance(session, int) and not isinstance(session, bool):
        turn = metadata.get("turn_index")
        return f"{context.run}#session{session}" + (f".turn{turn}" if isinstance(turn, int) and turn else "")
    return None


def _entry(
    position: int, record: Mapping[str, Any], metadata: Mapping[str, Any], request_id: str | None, context: RunContext
) -> ReadEntry:
    end, start = metadata.get("request_end_ns"), metadata.get("request_start_ns")
    instant = end if end is not None else start
    if not isinstance(instant, int) or isinstance(instant, bool):
        raise InvalidResult("timestamp", f"request_end_ns must be epoch nanoseconds, got {shown(instant)}")
    try:
        timestamp = epoch_nanoseconds(instant)
    except ValueError as error:
        raise InvalidResult("timestamp", str(error)) from None
    metrics = as_object(record.get("metrics"))
    failure = record.get("error")
    if failure is not None or metadata.get("was_cancelled") is True:
        return context.entry(
            position,
            timestamp=timestamp,
            request_id=request_id,
            prompt_token_count=_first(_tokens(metrics, "error_isl"), _tokens(metrics, "input_sequence_length")),
            error=_message(failure) if failure is not None else "cancelled by AIPerf before it completed",
        )
    tokens = _tokens(metrics, "output_sequence_length")
    first_token = _milliseconds(metrics, "time_to_first_token")
    latency = _milliseconds(metrics, "request_latency")
    return context.entry(
        position,
        timestamp=timestamp,
        request_id=request_id,
        token_count=tokens,
        time_to_first_token=first_token,
        # AIPerf's inter_token_latency has our definition but is written rounded; ours is derived
        # from the same figures, so every tool's TPOT of the same request is the same number.
        time_per_output_token=derived_time_per_output_token(latency, first_token, tokens),
        total_generation_time=latency,
        prompt_token_count=_tokens(metrics, "input_sequence_length"),
    )


def _first(*values: int | None) -> int | None:
    return next((value for value in values if value is not None), None)


def _message(error: object) -> str:
    """AIPerf's error object as one line: code, type, then the message."""
    if not isinstance(error, dict):
        return str(error)
    message = error.get("message")
    prefix = " ".join(str(part) for part in (error.get("code"), error.get("type")) if part not in (None, ""))
    if isinstance(message, str) and message:
        return f"{prefix}: {message}" if prefix else message
    return prefix or "error"


def _metric(metrics: Mapping[str, Any], tag: str) -> tuple[object, object]:
    entry = metrics.get(tag)
    if entry is None:
        return None, None
    if not isinstance(entry, dict):
        raise InvalidResult(tag, f"must be an object with value and unit, got {shown(entry)}")
    return entry.get("value"), entry.get("unit")


def _milliseconds(metrics: Mapping[str, Any], tag: str) -> float | None:
    value, unit = _metric(metrics, tag)
    amount = number(value, tag)
    if amount is None:
        return None
    scale = _MILLISECONDS.get(unit) if isinstance(unit, str) else None
    if scale is None:
        raise InvalidResult(tag, f"has unit {shown(unit)}, not a time unit this reader converts (ns, us, ms, s)")
    return amount * scale


def _tokens(metrics: Mapping[str, Any], tag: str) -> int | None:
    value, unit = _metric(metrics, tag)
    if unit not in _TOKENS:
        raise InvalidResult(tag, f"has unit {shown(unit)}, not tokens")
    return count(value, tag)
