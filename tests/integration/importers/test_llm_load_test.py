"""The llm-load-test reader on output files written from the specification, with a failure, a
one-token response (field-bugs row 5) and a clock step back (row 12)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from src.adapters.importers.llm_load_test import LlmLoadTestReader
from src.application.ports.result_reader import ImportOptions, ToolFile
from src.domain.errors import InvalidResult, UnreadableFile
from tests.integration.importers.format_heads import HEADS, OTHER_FILES, VLLM_EXAMPLE, others, p50, read, results, stats

READER = LlmLoadTestReader()
T0 = 1762266150.0  # 2025-11-04T14:22:30Z


def record(user_id: int, input_id: int, **fields: Any) -> dict[str, Any]:
    """A RequestResult as vars() writes it, every field in its order, null unless given."""
    names = (
        *("input_tokens", "output_text", "output_tokens", "output_tokens_before_timeout"),
        *("start_time", "ack_time", "first_token_time", "end_time"),
        *("response_time", "tt_ack", "ttft", "itl", "tpot", "stop_reason", "error_code", "error_text"),
    )
    return {"user_id": user_id, "input_id": input_id, **{name: fields.get(name) for name in names}}


def success(user_id: int, input_id: int, *, start: float, ttft_ms: float, e2e_ms: float, tokens: int) -> dict[str, Any]:
    """A streamed success with the derived fields llm-load-test computes (itl only from 2 tokens)."""
    return record(
        user_id,
        input_id,
        input_tokens=30,
        output_text="word " * tokens,
        output_tokens=tokens,
        output_tokens_before_timeout=tokens,
        start_time=start,
        ack_time=start + 0.01,
        first_token_time=start + ttft_ms / 1000,
        end_time=start + e2e_ms / 1000,
        response_time=e2e_ms,
        tt_ack=10.0,
        ttft=ttft_ms,
        itl=(e2e_ms - ttft_ms) / (tokens - 1) if tokens > 1 else None,
        tpot=e2e_ms / tokens,
        stop_reason="length",
    )


def document(records: list[dict[str, Any]], concurrency: object = 2) -> dict[str, Any]:
    return {
        "results": records,
        "config": {
            "output": {"format": "json", "dir": "./output/", "file": "output-{concurrency:03d}.json"},
            "dataset": {"file": "datasets/openorca.jsonl", "max_input_tokens": 1024, "max_output_tokens": 256},
            "load_options": {"type": "constant", "concurrency": concurrency, "duration": 20},
            "plugin": "openai_plugin",
            "plugin_options": {
                "streaming": True,
                "model_name": "org/granite-8b",
                "host": "https://route.example",
                "endpoint": "/v1/completions",
            },
            "extra_metadata": {"replicas": 1},
        },
        "summary": {"tpot": {"mean": None}, "total_failures": 1, "failure_rate": 25.0},
    }


def write(tmp_path: Path, content: dict[str, Any], name: str = "output-002.json") -> Path:
    """As write_output does: json.dumps with indent 2 (NaN where pandas found none)."""
    path = tmp_path / name
    path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return path


RECORDS = [
    # field-bugs row 5: R1 one token (ttft 120, e2e 120), R2 20 tokens (ttft 100, e2e 480).
    success(0, 3, start=T0, ttft_ms=120.0, e2e_ms=120.0, tokens=1),
    success(1, 3, start=T0 + 1, ttft_ms=100.0, e2e_ms=480.0, tokens=20),
    # A failure: llm-load-test leaves the derived fields null; this one never ended.
    record(0, 4, input_tokens=25, start_time=T0 + 2, error_code=500, error_text="Internal Server Error"),
    # field-bugs row 12: end 300 ms before start (the wall clock stepped back), ttft 50.
    record(
        1,
        4,
        input_tokens=25,
        output_tokens=5,
        start_time=1762266153.5,
        first_token_time=1762266153.55,
        end_time=1762266153.2,
        response_time=-300.0,
        ttft=50.0,
        itl=-87.5,
        tpot=-60.0,
    ),
]


def test_an_output_file_imports_its_requests_and_refuses_the_clock_step(tmp_path: Path) -> None:
    run, entries = read(READER, write(tmp_path, document(RECORDS)))
    assert (run.tool, run.format, run.run, run.warnings) == ("llm-load-test", "llm-load-test", "output-002", [])
    assert [entry.position for entry in entries] == [1, 2, 3, 4]
    found = results(entries)
    assert [result.request_id for result in found] == ["output-002#0-3-1", "output-002#1-3-2", "output-002#0-4-3"]
    refused = entries[3].outcome
    assert isinstance(refused, InvalidResult)
    assert refused.field == "total_generation_time"
    assert refused.index == 4
    assert refused.request_id == "output-002#1-4-4"
    assert "end_time precedes start_time by 300.000 ms" in refused.reason
    # Rows 5 and 12: R1's TPOT is null; mean TPOT 20.0 over R2 alone ((480-100)/19), not its tpot 24;
    # TTFT mean (120+100)/2 = 110, e2e mean (120+480)/2 = 300, unchanged by the refused record.
    one_token, twenty = found[0], found[1]
    assert one_token.time_per_output_token is None
    assert twenty.time_per_output_token == pytest.approx(20.0)
    tpot = stats(entries, "time_per_output_token")
    assert tpot.count == 1
    assert tpot.mean == pytest.approx(20.0)
    assert stats(entries, "time_to_first_token").mean == pytest.approx(110.0)
    assert p50(stats(entries, "time_to_first_token")) == pytest.approx(110.0)
    assert stats(entries, "total_generation_time").mean == pytest.approx(300.0)
    assert p50(stats(entries, "total_generation_time")) == pytest.approx(300.0)
    assert stats(entries, "token_count").mean == pytest.approx(10.5)
    # Timestamps: each end_time; the failure's start, as it never ended.
    assert one_token.timestamp == datetime(2025, 11, 4, 14, 22, 30, 120000, tzinfo=UTC)
    assert twenty.timestamp == datetime(2025, 11, 4, 14, 22, 31, 480000, tzinfo=UTC)
    failed = found[2]
    assert failed.timestamp == datetime(2025, 11, 4, 14, 22, 32, tzinfo=UTC)
    assert failed.error == "500: Internal Server Error"
    assert (failed.token_count, failed.time_to_first_token, failed.total_generation_time) == (None, None, None)
    assert failed.prompt_token_count == 25
    assert twenty.generated_text == "word " * 20
    assert twenty.prompt_token_count == 30
    assert twenty.model == "org/granite-8b"
    assert twenty.labels == {
        "concurrency": "2",
        "duration": "20",
        "endpoint": "/v1/completions",
        "load_type": "constant",
        "max_input_tokens": "1024",
        "max_output_tokens": "256",
        "plugin": "openai_plugin",
        "replicas": "1",
        "run": "output-002",
        "streaming": "true",
        "tool": "llm-load-test",
    }


def test_tpot_is_derived_when_itl_is_missing_and_concurrency_counted_from_users(tmp_path: Path) -> None:
    # An older record without itl: (600 - 100) / (11 - 1) = 50.0, never its tpot 600/11.
    older = success(0, 1, start=T0, ttft_ms=100.0, e2e_ms=600.0, tokens=11) | {"itl": None}
    users = [success(user, 1, start=T0 + user, ttft_ms=100.0, e2e_ms=200.0, tokens=2) for user in (1, 2)]
    entries = read(READER, write(tmp_path, document([older, *users], concurrency=[1, 3, 8])))[1]
    found = results(entries)
    assert found[0].time_per_output_token == pytest.approx(50.0)
    # The config lists every concurrency of the sweep; this file's users are 0, 1 and 2.
    assert found[0].labels["concurrency"] == "3"


def test_nan_in_the_file_is_read(tmp_path: Path) -> None:
    content = document(RECORDS[:2])
    content["summary"] = {"itl": {"mean": float("nan")}}
    path = write(tmp_path, content)
    assert b"NaN" in path.read_bytes()
    assert len(results(read(READER, path)[1])) == 2


def test_a_truncated_file_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, document(RECORDS))
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(UnreadableFile, match="not JSON"):
        READER.read([ToolFile(path.name, path)], ImportOptions())


@pytest.mark.parametrize("name", [*sorted(OTHER_FILES), "vllm"])
def test_another_format_is_unreadable_naming_what_was_expected(tmp_path: Path, name: str) -> None:
    path = tmp_path / "other.json"
    path.write_bytes(VLLM_EXAMPLE.read_bytes() if name == "vllm" else OTHER_FILES[name])
    with pytest.raises(UnreadableFile) as refused:
        READER.read([ToolFile(path.name, path)], ImportOptions())
    assert refused.value.file_format == "llm-load-test"
    assert "expected an llm-load-test output" in refused.value.reason


def test_recognizes_its_files_and_no_other_format(tmp_path: Path) -> None:
    assert READER.recognizes(HEADS["llm-load-test"], "output-002.json")
    assert READER.recognizes(write(tmp_path, document(RECORDS)).read_bytes(), "output-002.json")
    assert READER.recognizes(json.dumps(document(RECORDS)).encode(), "output.json")
    assert not any(READER.recognizes(head, "output.json") for head in others("llm-load-test"))
