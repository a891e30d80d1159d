"""GenAI-Perf / perf_analyzer: `profile_export.json`, the raw record of every request of every
experiment (start and response instants in epoch ns, the request payload, the raw SSE responses)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from src.adapters.importers.run_context import RunContext, epoch_nanoseconds, load_document, opens_with, run_name
from src.application.ports.result_reader import ImportOptions, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.benchmark_result import derived_time_per_output_token
from src.domain.errors import InvalidResult, UnreadableFile, shown

_EXPECTED = (
    'expected perf_analyzer\'s profile_export.json: an object with an "experiments" array of {experiment, requests}'
)
_NANOSECONDS_PER_MS = 1_000_000
DONE = "[DONE]"


@dataclass
class _Response:
    """What one recorded response (one SSE chunk, or several the client read at once) says."""

    text: str = ""
    completion_tokens: int | None = None
    error: str | None = None


class GenaiPerfReader(ResultReader):
    """Positions are 1-based places in the requests of all experiments, in file order.

    TTFT and end-to-end run from the request's start to its first and last response that carries
    content (empty chunks, usage-only chunks and [DONE] are not content), as GenAI-Perf measures
    them. The token count is the last usage.completion_tokens streamed; without one it is the
    number of content chunks, an estimate (see ESTIMATED_TOKENS)."""

    format = "genai-perf"

    def recognizes(self, head: bytes, name: str) -> bool:
        # rapidjson writes the document compact, experiments first, each opening with its experiment.
        return opens_with(head, b"{", b'"experiments"', b":", b"[") and (
            opens_with(head, b"{", b'"experiments"', b":", b"[", b"{", b'"experiment"')
            or b'"response_timestamps"' in head
        )

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        if len(files) != 1:
            raise UnreadableFile(self.format, f"takes one profile_export.json, got {len(files)} files")
        document = load_document(files[0], self.format)
        experiments = document.get("experiments") if isinstance(document, dict) else None
        if not isinstance(experiments, list) or not all(isinstance(entry, dict) for entry in experiments):
            raise UnreadableFile(self.format, _EXPECTED)
        run = run_name(files, self.format, options, generic=("profile_export",))
        settings = {key: document.get(key) for key in ("service_kind", "endpoint")}
        context = RunContext("genai-perf", run, options, settings)
        warnings: list[str] = []
        return ToolRun("genai-perf", self.format, run, _entries(experiments, context, warnings), warnings)


ESTIMATED_TOKENS = (
    "{count} request(s) streamed no usage.completion_tokens: their token counts are the number of "
    "content chunks, an estimate (exact when the server streams one token per chunk, as vLLM and TGI "
    "do; too low when a chunk carries several), and so is their TPOT"
)


def _entries(experiments: list[dict[str, Any]], context: RunContext, warnings: list[str]) -> Iterator[ReadEntry]:
    position = 0
    estimated = 0
    for experiment in experiments:
        labels = _experiment_labels(experiment.get("experiment"))
        requests = experiment.get("requests")
        for request in requests if isinstance(requests, list) else []:
            position += 1
            if not isinstance(request, dict):
                yield context.refused(position, None, "is not a perf_analyzer request record (a JSON object)")
                continue
            try:
                entry, was_estimated = _entry(position, request, context, labels)
            except InvalidResult as refused:
                entry, was_estimated = ReadEntry(position, refused.at(position, context.request_id(position))), False
            estimated += was_estimated
            yield entry
    if estimated:
        warnings.append(ESTIMATED_TOKENS.format(count=estimated))


def _experiment_labels(experiment: object) -> dict[str, object]:
    """The load an experiment ran at, as one label: concurrency 4, or request_rate 10."""
    if not isinstance(experiment, dict):
        return {}
    mode, value = experiment.get("mode"), experiment.get("value")
    return {mode: value} if isinstance(mode, str) and mode else {}


def _entry(
    position: int, request: Mapping[str, Any], context: RunContext, labels: Mapping[str, object]
) -> tuple[ReadEntry, bool]:
    start = _nanoseconds(request.get("timestamp"), "timestamp")
    instants = request.get("response_timestamps")
    if not isinstance(instants, list):
        raise InvalidResult("response_timestamps", f"must be an array of epoch nanoseconds, got {shown(instants)}")
    instants = [_nanoseconds(instant, "response_timestamps") for instant in instants]
    payload = _payload(request.get("request_inputs"))
    prompt, model = _prompt(payload), payload.get("model") if isinstance(payload.get("model"), str) else None
    outputs = request.get("response_outputs")
    responses = [_response(output) for output in outputs] if isinstance(outputs, list) else []
    failure = next((response.error for response in responses if response.error), None)
    if not instants or failure:
        return context.entry(
            position,
            timestamp=_instant(start),
            prompt_text=prompt,
            model=model,
            labels=labels,
            error=failure or "no response: perf_analyzer recorded no response timestamp for the request",
        ), False
    if not responses:
        # A service kind whose outputs were not recorded: every response counts, without text.
        responses = [_Response(text="")] * len(instants)
        content_instants = instants
    else:
        content_instants = [instant for instant, response in zip(instants, responses, strict=False) if response.text]
    usage = [response.completion_tokens for response in responses if response.completion_tokens is not None]
    tokens = usage[-1] if usage else len(content_instants)
    end = content_instants[-1] if content_instants else instants[-1]
    ttft = (content_instants[0] - start) / _NANOSECONDS_PER_MS if content_instants else None
    e2e = (end - start) / _NANOSECONDS_PER_MS
    return context.entry(
        position,
        timestamp=_instant(end),
        token_count=tokens,
        time_to_first_token=ttft,
        time_per_output_token=derived_time_per_output_token(e2e, ttft, tokens),
        total_generation_time=e2e,
        prompt_text=prompt,
        generated_text="".join(response.text for response in responses),
        model=model,
        labels=labels,
    ), not usage


def _nanoseconds(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidResult(name, f"must be epoch nanoseconds (an integer), got {shown(value)}")
    return value


def _instant(nanoseconds: int) -> datetime:
    try:
        return epoch_nanoseconds(nanoseconds)
    except ValueError as error:
        raise InvalidResult("timestamp", str(error)) from None


def _payload(inputs: object) -> Mapping[str, Any]:
    """The request body perf_analyzer sent (a JSON string under request_inputs.payload), or {}."""
    text = inputs.get("payload") if isinstance(inputs, dict) else None
    if not isinstance(text, str):
        return {}
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _prompt(payload: Mapping[str, Any]) -> str:
    """The chat messages' texts, one per line, or the completion prompt."""
    messages = payload.get("messages")
    if isinstance(messages, list):
        return "\n".join(
            text for message in messages if isinstance(message, dict) and (text := _text(message.get("content")))
        )
    prompt = payload.get("prompt")
    if isinstance(prompt, list):
        return "\n".join(part for part in prompt if isinstance(part, str))
    return prompt if isinstance(prompt, str) else ""


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def _response(output: object) -> _Response:
    """One recorded response: the server-sent events in it (`data: {...}`), or a whole
    non-streamed body."""
    raw = output.get("response", next(iter(output.values()), "")) if isinstance(output, dict) and output else ""
    if not isinstance(raw, str):
        return _Response()
    if "data:" not in raw:
        return _event(raw.strip(), "")
    found = _Response()
    event = ""
    for raw_line in raw.splitlines():
        line = raw_line.strip()
        if line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            part = _event(line[len("data:") :].strip(), event)
            found.text += part.text
            found.completion_tokens = (
                part.completion_tokens if part.completion_tokens is not None else found.completion_tokens
            )
            found.error = found.error or part.error
            event = ""
    return found


def _event(data: str, event: str) -> _Response:
    if not data or data == DONE:
        return _Response()
    try:
        chunk = json.loads(data)
    except ValueError:
        return _Response(error=f"error event: {data}" if event == "error" else None)
    if not isinstance(chunk, dict):
        return _Response()
    if "error" in chunk or event == "error":
        error = chunk.get("error", chunk)
        message = error.get("message") if isinstance(error, dict) else error
        return _Response(error=str(message) if message else json.dumps(error, ensure_ascii=False))
    found = _Response()
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        for container in (choice.get("delta"), choice.get("message")):
            if isinstance(container, dict) and isinstance(container.get("content"), str):
                found.text = container["content"]
                break
        else:
            found.text = choice["text"] if isinstance(choice.get("text"), str) else ""
    usage = chunk.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if isinstance(tokens, int) and not isinstance(tokens, bool):
        found.completion_tokens = tokens
    return found
