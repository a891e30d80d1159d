"""perf_analyzer's profile_export.json (GenAI-Perf), read by GenaiPerfReader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from src.adapters.importers.genai_perf import GenaiPerfReader
from src.domain.errors import UnreadableFile
from tests.integration.importers.tool_reading import (
    EXAMPLES,
    TOOL_HEADS,
    heads_other_than,
    read,
    truncated,
    utc,
    write_json,
)

READER = GenaiPerfReader()
T = 1762266153_000_000_000  # 2025-11-04T14:22:33Z
MS = 1_000_000
TEXT = "你好，世界 ☕ café — ok"


def sse(*chunks: object) -> dict[str, str]:
    """One recorded response: server-sent events as the server wrote them (JSON with \\u escapes)."""
    return {
        "response": "".join(f"data: {chunk if isinstance(chunk, str) else json.dumps(chunk)}\n\n" for chunk in chunks)
    }


def chat(content: str) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]}


def completion(text: str) -> dict[str, Any]:
    return {"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": text}]}


def request(start: int, payload: dict[str, Any], responses: list[tuple[int, dict[str, str]]]) -> dict[str, Any]:
    return {
        "timestamp": start,
        "request_inputs": {"payload": json.dumps(payload)},
        "response_timestamps": [start + offset * MS for offset, _ in responses],
        "response_outputs": [output for _, output in responses],
    }


@pytest.fixture
def export(tmp_path: Path) -> Path:
    chat_body = {"model": "m1", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    # A: chat with usage; the role-only chunk, the usage chunk and [DONE] are not content.
    # TTFT 100, e2e 200 (the last content chunk), 7 tokens (usage), TPOT (200 - 100) / 6.
    a = request(
        T,
        chat_body,
        [
            (50, sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})),
            (100, sse(chat("你好，"))),
            (150, sse(chat("世界 ☕ "))),
            (200, sse(chat("café — ok"))),
            (210, sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 7}})),
            (220, sse("[DONE]")),
        ],
    )
    # B: completions without usage: 3 content chunks, an estimated 3 tokens. TTFT 300, e2e 500, TPOT 100.
    b = request(
        T + 1000 * MS,
        {"model": "m1", "prompt": "Count"},
        [(300, sse(completion("1"))), (400, sse(completion("2"))), (500, sse(completion("3"))), (510, sse("[DONE]"))],
    )
    # C: no response at all: failed at its start.
    c = request(T + 2000 * MS, chat_body, [])
    # D: an SSE error event.
    d = request(T + 3000 * MS, chat_body, [(40, sse({"error": {"message": "model overloaded", "code": 503}}))])
    # E: two events read at once, then the last content with usage: TTFT 100, e2e 300, 3 tokens, TPOT 100.
    e = request(
        T + 4000 * MS,
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "ab"}]}]},
        [
            (100, {"response": f"data: {json.dumps(chat('a'))}\n\ndata: {json.dumps(chat('b'))}\n\n"}),
            (300, sse(chat("c") | {"usage": {"completion_tokens": 3}}, "[DONE]")),
        ],
    )
    document = {
        "experiments": [
            {
                "experiment": {"mode": "concurrency", "value": 2},
                "requests": [a, b, c],
                "window_boundaries": [T, T + 3 * 10**9],
            },
            {"experiment": {"mode": "request_rate", "value": 5.0}, "requests": [d, e], "window_boundaries": []},
        ],
        "version": "2.0.0",
        "service_kind": "openai",
        "endpoint": "v1/chat/completions",
    }
    return write_json(tmp_path / "profile_export.json", document)


def test_metrics_from_the_first_and_last_content_responses(export: Path) -> None:
    found = read(READER, export, model="given")
    assert (found.summary.count, found.summary.failed) == (3, 2)
    # A, B, E: TTFT 100, 300, 100; e2e 200, 500, 300; tokens 7, 3, 3; TPOT 100/6, 100, 100.
    assert found.mean("time_to_first_token") == pytest.approx(500 / 3)
    assert found.p50("time_to_first_token") == pytest.approx(100.0)
    assert found.mean("total_generation_time") == pytest.approx(1000 / 3)
    assert found.p50("total_generation_time") == pytest.approx(300.0)
    assert found.mean("token_count") == pytest.approx(13 / 3)
    assert found.p50("token_count") == 3.0
    assert found.mean("time_per_output_token") == pytest.approx((100 / 6 + 200) / 3)
    assert found.p50("time_per_output_token") == pytest.approx(100.0)
    first, last = found.results[0], found.results[-1]
    assert first.timestamp == utc("2025-11-04T14:22:33.200000")  # start + e2e
    assert last.timestamp == utc("2025-11-04T14:22:37.300000")
    assert [result.request_id for result in found.results] == [f"{found.run.run}#{n}" for n in range(1, 6)]


def test_field_bugs_row_10_text_split_across_chunks_is_kept_byte_identical(export: Path) -> None:
    first = read(READER, export).results[0]
    assert first.generated_text == TEXT
    assert first.generated_text.encode() == TEXT.encode("utf-8")
    assert first.prompt_text == "Hi"
    assert first.error is None


def test_failures_are_kept_at_their_start_with_no_metric(export: Path) -> None:
    found = read(READER, export)
    silent, overloaded = found.results[2], found.results[3]
    assert silent.error is not None
    assert "no response" in silent.error
    assert silent.timestamp == utc("2025-11-04T14:22:35")
    assert overloaded.error == "model overloaded"
    assert overloaded.timestamp == utc("2025-11-04T14:22:36")
    for failure in (silent, overloaded):
        assert (failure.token_count, failure.time_to_first_token, failure.total_generation_time) == (None, None, None)


def test_labels_model_prompts_and_the_estimate_warning(export: Path) -> None:
    found = read(READER, export, model="given")
    assert found.results[0].labels == {
        "concurrency": "2",
        "endpoint": "v1/chat/completions",
        "run": found.run.run,
        "service_kind": "openai",
        "tool": "genai-perf",
    }
    assert found.results[4].labels["request_rate"] == "5"
    assert [result.model for result in found.results] == ["m1", "m1", "m1", "m1", "given"]
    assert found.results[1].prompt_text == "Count"
    assert found.results[1].generated_text == "123"
    assert found.results[4].prompt_text == "ab"
    assert found.results[4].generated_text == "abc"
    # Only B streamed no usage.
    (warning,) = found.run.warnings
    assert warning.startswith("1 request(s) streamed no usage.completion_tokens")
    # profile_export is every run's name: the content names the run.
    assert found.run.run.startswith("genai-perf-")


def test_recognizes_its_file_and_no_other_format(export: Path) -> None:
    assert READER.recognizes(export.read_bytes()[:65536], "profile_export.json")
    assert all(READER.recognizes(head, "") for head in TOOL_HEADS["genai-perf"])
    assert not any(READER.recognizes(head, "") for head in heads_other_than("genai-perf"))


def test_a_truncated_file_is_unreadable(export: Path, tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="not JSON"):
        read(READER, truncated(export, tmp_path / "cut.json"))


@pytest.mark.parametrize("example", ["guidellm-benchmarks-example.json", "llmperf-example_summary.json"])
def test_a_file_of_another_format_is_unreadable_naming_what_was_expected(example: str) -> None:
    with pytest.raises(UnreadableFile, match=r"expected perf_analyzer's profile_export\.json"):
        read(READER, EXAMPLES / example)
