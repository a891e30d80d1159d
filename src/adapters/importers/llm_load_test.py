"""llm-load-test's output files (openshift-psap, `output/output-{concurrency:03d}.json`):
`{"results": [...], "config": {...}, "summary": {...}}`, one record per request."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeGuard

from src.adapters.importers.run_context import RunContext, default_run_name, epoch_seconds, load_document, only_file
from src.application.ports.result_reader import ImportOptions, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.benchmark_result import derived_time_per_output_token
from src.domain.errors import UnreadableFile

TOOL = "llm-load-test"
# write_output dumps {"results": ..., "config": ..., "summary": ...} in that order (indent 2).
_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"results"\s*:\s*\[')
_EXPECTED = 'expected an llm-load-test output, a JSON object {"results": [...], "config": {...}, "summary": {...}}'


class LlmLoadTestReader(ResultReader):
    """llm-load-test output files.

    A record's timestamp is its `end_time` (epoch seconds; `start_time` for a failure that never
    ended); TPOT is its `itl` ((end - first token) / (tokens - 1), ours), never its `tpot`, which
    includes TTFT. A request whose end precedes its start (the wall clock stepped) is refused.
    Ids are `{run}#{user_id}-{input_id}-{i}`: `input_id` is a dataset row and repeats across
    users, and every concurrency writes the same ids, so the run and the position make them unique.
    """

    format = "llm-load-test"

    def recognizes(self, head: bytes, name: str) -> bool:
        return _HEAD.match(head) is not None

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        file = only_file(files, self.format)
        # Python's json.dumps writes NaN for a pandas mean over nothing.
        try:
            document = load_document(file, self.format, lenient=True)
        except UnreadableFile as unreadable:
            raise UnreadableFile(self.format, f"{unreadable.reason}; {_EXPECTED}") from None
        if not isinstance(document, dict) or not isinstance(document.get("results"), list):
            raise UnreadableFile(self.format, _EXPECTED)
        config = document.get("config")
        config = config if isinstance(config, dict) else {}
        records: list[Any] = document["results"]
        run = options.run or default_run_name(files, self.format)
        plugin_options = _object(config.get("plugin_options"))
        model = plugin_options.get("model_name")
        context = RunContext(
            TOOL, run, options, _settings(config, records), model if isinstance(model, str) and model else None
        )
        return ToolRun(TOOL, self.format, run, _entries(records, context))


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _settings(config: Mapping[str, Any], records: list[Any]) -> dict[str, object]:
    load = _object(config.get("load_options"))
    plugin_options = _object(config.get("plugin_options"))
    dataset = _object(config.get("dataset"))
    concurrency = load.get("concurrency")
    if not isinstance(concurrency, int):
        # A list of concurrencies in the config: this file is one of them, run by that many users.
        users = {record.get("user_id") for record in records if isinstance(record, dict)}
        concurrency = len(users) if users else None
    return {
        **{key: value for key, value in _object(config.get("extra_metadata")).items() if not isinstance(value, dict)},
        "concurrency": concurrency,
        "load_type": load.get("type"),
        "duration": load.get("duration"),
        "rps": load.get("rps"),
        "plugin": config.get("plugin"),
        "streaming": plugin_options.get("streaming"),
        "endpoint": plugin_options.get("endpoint"),
        "max_input_tokens": dataset.get("max_input_tokens"),
        "max_output_tokens": dataset.get("max_output_tokens"),
    }


def _entries(records: list[Any], context: RunContext) -> Iterator[ReadEntry]:
    for position, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            yield context.refused(position, None, "must be a JSON object, one request")
            continue
        request_id = f"{context.run}#{record.get('user_id')}-{record.get('input_id')}-{position}"
        yield _entry(record, position, request_id, context)


def _entry(record: Mapping[str, Any], position: int, request_id: str, context: RunContext) -> ReadEntry:
    error = _error(record)
    start, end = record.get("start_time"), record.get("end_time")
    if error is None and _number(start) and _number(end) and end < start:
        return context.refused(
            position,
            "total_generation_time",
            f"end_time precedes start_time by {(start - end) * 1000:.3f} ms: the wall clock stepped back during "
            "the request (NTP or a manual change), so none of its times can be trusted",
            request_id,
        )
    moment = end if end is not None else start
    if not _number(moment):
        return context.refused(position, "timestamp", "has neither end_time nor start_time (epoch seconds)", request_id)
    try:
        timestamp: datetime = epoch_seconds(moment)
    except ValueError as implausible:
        return context.refused(position, "timestamp", str(implausible), request_id)
    if error is not None:
        return context.entry(
            position,
            request_id=request_id,
            timestamp=timestamp,
            prompt_token_count=record.get("input_tokens"),
            error=error,
        )
    tokens = record.get("output_tokens")
    first = record.get("ttft")
    total = record.get("response_time")
    if total is None and _number(start) and _number(end):
        total = (end - start) * 1000
    return context.entry(
        position,
        request_id=request_id,
        timestamp=timestamp,
        token_count=tokens,
        time_to_first_token=first,
        time_per_output_token=_time_per_output_token(record.get("itl"), total, first, tokens),
        total_generation_time=total,
        prompt_token_count=record.get("input_tokens"),
        generated_text=record.get("output_text") if isinstance(record.get("output_text"), str) else "",
    )


def _error(record: Mapping[str, Any]) -> str | None:
    text, code = record.get("error_text"), record.get("error_code")
    if text is None and code is None:
        return None
    if text is None or text == "":
        return f"error code {code}"
    return str(text) if code is None else f"{code}: {text}"


def _time_per_output_token(itl: object, total: object, first: object, tokens: object) -> float | None:
    """The tool's `itl` where it is ours (two tokens or more); else (e2e - TTFT) / (tokens - 1)."""
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens <= 1:
        return None
    if _number(itl):
        return float(itl)
    if _number(total) and _number(first):
        return derived_time_per_output_token(total, first, tokens)
    return None


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
