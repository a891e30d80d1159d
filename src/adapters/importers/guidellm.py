"""guidellm (vllm-project/guidellm): `benchmarks.json`, every schema generation: v0.7+ (metadata
version 2), v0.5-v0.6 (version 1), v0.4 (`args`) and v0.3 and before (`benchmarks` only). Each
benchmark in the file is a run; its requests come grouped as successful, incomplete, errored."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from src.adapters.importers.run_context import (
    RunContext,
    as_object,
    count,
    epoch_seconds,
    load_document,
    number,
    opens_with,
    run_name,
)
from src.application.ports.result_reader import ImportOptions, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.errors import InvalidResult, UnreadableFile

SUCCESSFUL, INCOMPLETE, ERRORED = "successful", "incomplete", "errored"
STATUS_GROUPS = (SUCCESSFUL, INCOMPLETE, ERRORED)
_EXPECTED = (
    'expected guidellm\'s benchmarks.json: an object with a "benchmarks" array of benchmarks with their requests'
)
CANCELLED = "incomplete: cancelled while in flight, when a constraint (duration or count) ended the benchmark"


class GuidellmReader(ResultReader):
    """Positions are 1-based places among all requests of the file, benchmark by benchmark, each
    benchmark's groups in file order. TPOT is guidellm's inter_token_latency_ms (or the same from
    its timings), never its time_per_output_token_ms, which includes TTFT. An incomplete request
    was cancelled: it is stored as failed, its status label saying incomplete."""

    format = "guidellm"

    def recognizes(self, head: bytes, name: str) -> bool:
        return (
            (
                # v0.5+: metadata opens with the schema version, then guidellm's own.
                opens_with(head, b"{", b'"metadata"', b":", b"{", b'"version"') and b'"guidellm_version"' in head
            )
            or (
                # v0.4: the CLI arguments, then the benchmarks; v0.3: the benchmarks alone.
                opens_with(head, b"{", b'"args"', b":", b"{") and b'"benchmarks"' in head
            )
            or (opens_with(head, b"{", b'"benchmarks"', b":", b"[") and b'"generative_benchmark"' in head)
        )

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        if len(files) != 1:
            raise UnreadableFile(self.format, f"takes one benchmarks.json, got {len(files)} files")
        document = load_document(files[0], self.format)
        benchmarks = document.get("benchmarks") if isinstance(document, dict) else None
        if not isinstance(benchmarks, list) or not all(
            isinstance(benchmark, dict) and isinstance(benchmark.get("requests"), dict) for benchmark in benchmarks
        ):
            raise UnreadableFile(self.format, _EXPECTED)
        run = run_name(files, self.format, options, generic=("benchmarks",))
        warnings: list[str] = []
        entries = _entries(document, benchmarks, run, options, warnings)
        return ToolRun("guidellm", f"{self.format} {_generation(document)}", run, entries, warnings)


def _generation(document: Mapping[str, Any]) -> str:
    version = as_object(document.get("metadata")).get("version")
    if version == 2:
        return "v0.7+"
    if version == 1:
        return "v0.5-v0.6"
    if "args" in document:
        return "v0.4"
    return "v0.3 or earlier"


def _entries(
    document: Mapping[str, Any], benchmarks: list[dict[str, Any]], run: str, options: ImportOptions, warnings: list[str]
) -> Iterator[ReadEntry]:
    position = 0
    without_prompt = 0
    for index, benchmark in enumerate(benchmarks, start=1):
        name = run if len(benchmarks) == 1 else f"{run}-{index}"
        context = RunContext("guidellm", name, options, _settings(benchmark, index), _file_model(document, benchmark))
        groups = as_object(benchmark.get("requests"))
        present = {group: len(requests) for group in STATUS_GROUPS if isinstance(requests := groups.get(group), list)}
        _warn_if_sampled(benchmark, index, present, warnings)
        for group, requests in groups.items():
            if group not in STATUS_GROUPS or not isinstance(requests, list):
                continue
            for request in requests:
                position += 1
                if not isinstance(request, dict):
                    yield context.refused(position, None, "is not a guidellm request record (a JSON object)")
                    continue
                request_id = request.get("request_id") or as_object(request.get("info")).get("request_id")
                identity = request_id if isinstance(request_id, str) and request_id else None
                without_prompt += "request_args" in request and not isinstance(request["request_args"], str)
                try:
                    yield _entry(position, request, group, identity, context)
                except InvalidResult as refused:
                    yield ReadEntry(position, refused.at(position, identity or context.request_id(position)))
    if without_prompt:
        warnings.append(
            f"{without_prompt} request(s) carry no request_args (guidellm kept them only for a sample): "
            "their prompt text is empty"
        )


def _settings(benchmark: Mapping[str, Any], index: int) -> dict[str, object]:
    """The benchmark's strategy (type, and its rate or streams), guidellm's run id and index,
    and the benchmark's place in the file."""
    config = as_object(benchmark.get("config"))  # v0.4+
    args = as_object(benchmark.get("args"))  # v0.3
    strategy = as_object(config.get("strategy") or args.get("strategy"))
    settings: dict[str, object] = {
        "strategy": strategy.get("type_"),
        "rate": strategy.get("rate"),
        "streams": strategy.get("streams"),
        "run_id": config.get("run_id", benchmark.get("run_id")),
        "run_index": config.get("run_index", args.get("strategy_index")),
        "benchmark_index": index,
    }
    return {key: value for key, value in settings.items() if isinstance(value, (str, int, float))}


def _file_model(document: Mapping[str, Any], benchmark: Mapping[str, Any]) -> str | None:
    """The model the run's settings name, for requests whose body names none."""
    candidates = (
        as_object(document.get("args")).get("model"),
        as_object(document.get("config")).get("model"),
        as_object(as_object(document.get("config")).get("backend")).get("model"),
        as_object(as_object(benchmark.get("config")).get("backend")).get("model"),
        as_object(benchmark.get("worker")).get("backend_model"),
    )
    return next((candidate for candidate in candidates if isinstance(candidate, str) and candidate), None)


def _warn_if_sampled(benchmark: Mapping[str, Any], index: int, present: Mapping[str, int], warnings: list[str]) -> None:
    made = as_object(
        as_object(benchmark.get("scheduler_metrics")).get("requests_made")  # v0.5+
        or as_object(benchmark.get("run_stats")).get("requests_made")  # v0.4
        or benchmark.get("request_totals")
        or benchmark.get("total_count")  # v0.3
    )
    ran = {group: made[group] for group in STATUS_GROUPS if isinstance(made.get(group), int)}
    if sum(ran.values()) > sum(present.values()):
        detail = ", ".join(f"{group} {present.get(group, 0)} of {ran[group]}" for group in ran)
        warnings.append(
            f"benchmark {index}: the file holds {sum(present.values())} of the {sum(ran.values())} requests that ran "
            f"({detail}): guidellm kept a sample, so statistics of this import describe the sample"
        )


def _entry(
    position: int, request: Mapping[str, Any], group: str, request_id: str | None, context: RunContext
) -> ReadEntry:
    info = as_object(request.get("info"))
    timings = as_object(info.get("timings"))
    body = _body(request.get("request_args"))
    prompt = _prompt(body) if body else request.get("prompt")
    output = request.get("output")
    common: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": _timestamp(request, timings),
        "prompt_token_count": count(request.get("prompt_tokens"), "prompt_tokens"),
        "prompt_text": prompt if isinstance(prompt, str) else "",
        "generated_text": output if isinstance(output, str) else "",
        "model": body.get("model") if isinstance(body.get("model"), str) else None,
        "labels": {"status": group},
    }
    if group != SUCCESSFUL:
        return context.entry(position, error=_failure(group, info.get("error") or request.get("error")), **common)
    tokens = count(request.get("output_tokens"), "output_tokens")
    latency = number(request.get("request_latency"), "request_latency")
    if latency is None:
        start = number(request.get("request_start_time", request.get("start_time")), "request_start_time")
        end = number(request.get("request_end_time", request.get("end_time")), "request_end_time")
        latency = None if start is None or end is None else end - start
    return context.entry(
        position,
        token_count=tokens,
        time_to_first_token=number(request.get("time_to_first_token_ms"), "time_to_first_token_ms"),
        time_per_output_token=_time_per_output_token(request, timings, tokens),
        total_generation_time=None if latency is None else latency * 1000,
        **common,
    )


def _time_per_output_token(request: Mapping[str, Any], timings: Mapping[str, Any], tokens: int | None) -> float | None:
    """inter_token_latency_ms, else (last token - first token) / (tokens - 1) from the timings;
    None at one token or none, where v0.3 writes 0.0."""
    if tokens is None or tokens <= 1:
        return None
    written = number(request.get("inter_token_latency_ms"), "inter_token_latency_ms")
    if written is not None:
        return written
    first = number(timings.get("first_token_iteration"), "first_token_iteration")
    last = number(timings.get("last_token_iteration"), "last_token_iteration")
    return None if first is None or last is None else (last - first) * 1000 / (tokens - 1)


def _timestamp(request: Mapping[str, Any], timings: Mapping[str, Any]) -> datetime:
    """The request's end (request_end_time, v0.4+; end_time, v0.3), else its start."""
    for key, value in (
        ("request_end_time", request.get("request_end_time")),
        ("end_time", request.get("end_time")),
        ("request_end", timings.get("request_end")),
        ("request_start_time", request.get("request_start_time")),
        ("start_time", request.get("start_time")),
    ):
        seconds = number(value, key)
        if seconds is not None:
            try:
                return epoch_seconds(seconds)
            except ValueError as error:
                raise InvalidResult("timestamp", str(error)) from None
    raise InvalidResult("timestamp", "is missing: the request has no request_end_time, end_time or start time")


def _body(arguments: object) -> dict[str, Any]:
    """The HTTP body guidellm sent, from request_args (a JSON string), or {}."""
    if not isinstance(arguments, str):
        return {}
    try:
        return as_object(as_object(json.loads(arguments)).get("body"))
    except ValueError:
        return {}


def _prompt(body: Mapping[str, Any]) -> str:
    """The last chat message's text, or the completion prompt."""
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        content = as_object(messages[-1]).get("content")
        if isinstance(content, list):
            return "".join(
                part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
        return content if isinstance(content, str) else ""
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def _failure(group: str, error: object) -> str:
    """A failed request's error: the group's meaning for an incomplete one, then guidellm's message."""
    reason = str(error) if error else None
    if group == INCOMPLETE:
        return f"{CANCELLED}: {reason}" if reason else CANCELLED
    return reason or "errored (guidellm recorded no message)"
