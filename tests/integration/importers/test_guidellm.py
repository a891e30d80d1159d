"""guidellm's benchmarks.json of every schema generation, read by GuidellmReader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from src.adapters.importers.guidellm import CANCELLED, GuidellmReader
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

READER = GuidellmReader()
T = 1762266153.0  # 2025-11-04T14:22:33Z
TEXT = "你好，世界 ☕ café — ok"


def stats(
    request_id: str,
    start: float,
    *,
    ttft: float | None,
    last: float | None,
    end: float,
    tokens: int | None,
    status: str = "completed",
    error: str | None = None,
    output: str | None = "",
    write_itl: bool = True,
    body: dict[str, Any] | None = None,
    prompt: str = "P",
) -> dict[str, Any]:
    """A v0.4+ GenerativeRequestStats, its computed fields as guidellm writes them (times in s after start)."""
    sent = (
        body
        if body is not None
        else {"model": "m", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": prompt}]}
    )
    itl = None
    if write_itl and tokens and tokens > 1 and ttft is not None and last is not None:
        itl = 1000 * (last - ttft) / (tokens - 1)
    return {
        "type_": "generative_request_stats",
        "request_id": request_id,
        "request_args": json.dumps({"method": "POST", "stream": True, "body": sent}),
        "output": output,
        "info": {
            "request_id": request_id,
            "status": status,
            "timings": {
                "request_start": start,
                "first_token_iteration": None if ttft is None else start + ttft,
                "last_token_iteration": None if last is None else start + last,
                "request_end": start + end,
            },
            "error": error,
        },
        "request_start_time": start,
        "request_end_time": start + end,
        "request_latency": end,
        "prompt_tokens": 12,
        "output_tokens": tokens,
        "time_to_first_token_ms": None if ttft is None else 1000 * ttft,
        "time_per_output_token_ms": 1000 * last / tokens if tokens and last is not None else None,
        "inter_token_latency_ms": itl,
    }


def benchmark(requests: dict[str, list[dict[str, Any]]], made: dict[str, int], **config: Any) -> dict[str, Any]:
    return {
        "type_": "generative_benchmark",
        "config": {"run_id": "r7", "run_index": 0, "strategy": {"type_": "concurrent", "streams": 4}, **config},
        "scheduler_metrics": {"requests_made": {**made, "total": sum(made.values())}},
        "metrics": {},
        "requests": {**requests, "total": None},
    }


@pytest.fixture
def v07(tmp_path: Path) -> Path:
    successful = [
        # field-bugs row 2: first token at +200 ms, last at +1200 ms, 11 tokens; guidellm's
        # time_per_output_token_ms 1200 / 11 = 109.09, inter_token_latency_ms 100.0.
        stats("s1", T, ttft=0.2, last=1.2, end=1.25, tokens=11, output=TEXT, prompt="Q1"),
        # No inter_token_latency_ms written: from the timings, (0.5 - 0.1) * 1000 / 4 = 100.
        stats("s2", T + 1, ttft=0.1, last=0.5, end=0.6, tokens=5, write_itl=False),
        # One token: no TPOT.
        stats("s3", T + 2, ttft=0.05, last=0.05, end=0.06, tokens=1),
    ]
    errored = [stats("e1", T + 3, ttft=None, last=None, end=0.01, tokens=None, status="errored", error="boom")]
    incomplete = [stats("i1", T + 4, ttft=0.2, last=0.4, end=0.5, tokens=3, status="cancelled", output="partial")]
    document = {
        "metadata": {"version": 2, "guidellm_version": "0.7.3", "python_version": "3.12.7", "platform": "Linux"},
        "config": {},
        "benchmarks": [
            benchmark(
                {"successful": successful, "errored": errored, "incomplete": incomplete},
                {"successful": 3, "errored": 1, "incomplete": 1},
            )
        ],
    }
    return write_json(tmp_path / "benchmarks.json", document)


def test_v07_metrics_with_field_bugs_row_2(v07: Path) -> None:
    found = read(READER, v07, run="r")
    assert found.run.format == "guidellm v0.7+"
    assert (found.summary.count, found.summary.failed) == (3, 2)
    first = found.by_id("s1")
    assert first.time_per_output_token == pytest.approx(100.0)  # not 109.09
    assert first.time_to_first_token == pytest.approx(200.0)
    assert first.total_generation_time == pytest.approx(1250.0)  # request_latency, to request_end
    assert found.by_id("s2").time_per_output_token == pytest.approx(100.0)
    assert found.by_id("s3").time_per_output_token is None
    # TTFT 200, 100, 50; e2e 1250, 600, 60; tokens 11, 5, 1; TPOT 100, 100.
    assert found.mean("time_to_first_token") == pytest.approx(350 / 3)
    assert found.p50("time_to_first_token") == pytest.approx(100.0)
    assert found.mean("total_generation_time") == pytest.approx(1910 / 3)
    assert found.p50("total_generation_time") == pytest.approx(600.0)
    assert found.mean("token_count") == pytest.approx(17 / 3)
    assert found.p50("token_count") == 5.0
    assert found.mean("time_per_output_token") == pytest.approx(100.0)
    assert found.mean("prompt_token_count") == 12.0
    # request_end_time of the first (+1.25 s) and of the last request in file order (+4.5 s).
    assert found.results[0].timestamp == utc("2025-11-04T14:22:34.250000")
    assert found.results[-1].timestamp == utc("2025-11-04T14:22:37.500000")
    assert found.run.warnings == []


def test_v07_groups_texts_labels_and_model(v07: Path) -> None:
    found = read(READER, v07, run="r")
    # File order: successful, then errored, then incomplete, as the file lists them.
    assert [result.request_id for result in found.results] == ["s1", "s2", "s3", "e1", "i1"]
    first = found.by_id("s1")
    assert first.generated_text == TEXT  # field-bugs row 10
    assert first.generated_text.encode() == TEXT.encode("utf-8")
    assert first.prompt_text == "Q1"  # the last message
    assert first.model == "m"
    assert first.labels == {
        "benchmark_index": "1",
        "run": "r",
        "run_id": "r7",
        "run_index": "0",
        "status": "successful",
        "strategy": "concurrent",
        "streams": "4",
        "tool": "guidellm",
    }
    errored, incomplete = found.by_id("e1"), found.by_id("i1")
    assert errored.error == "boom"
    assert errored.labels["status"] == "errored"
    assert incomplete.error == CANCELLED
    assert incomplete.labels["status"] == "incomplete"
    assert incomplete.generated_text == "partial"
    for failure in (errored, incomplete):
        assert (failure.token_count, failure.time_to_first_token, failure.time_per_output_token) == (None, None, None)
        assert failure.total_generation_time is None


def test_v05_sampled_file_warns_that_it_holds_fewer_requests_than_ran(tmp_path: Path) -> None:
    sampled_out = stats("s2", T + 1, ttft=0.1, last=0.5, end=0.6, tokens=5) | {"request_args": None}
    document = {
        "metadata": {"version": 1, "guidellm_version": "0.5.1"},
        "benchmarks": [
            benchmark(
                {
                    "successful": [stats("s1", T, ttft=0.2, last=1.2, end=1.25, tokens=11), sampled_out],
                    "incomplete": [],
                    "errored": [
                        stats("e1", T + 2, ttft=None, last=None, end=0.1, tokens=0, status="errored", error="x")
                    ],
                },
                {"successful": 10, "incomplete": 0, "errored": 2},
            )
        ],
    }
    found = read(READER, write_json(tmp_path / "bench.json", document, indent=1))
    assert found.run.format == "guidellm v0.5-v0.6"
    assert (found.summary.count, found.summary.failed) == (2, 1)
    assert found.run.run == "bench"
    sampled, prompts = found.run.warnings
    assert "holds 3 of the 12 requests that ran" in sampled
    assert "successful 2 of 10" in sampled
    assert prompts.startswith("1 request(s) carry no request_args")
    assert found.by_id("s2").prompt_text == ""


def test_v04_each_benchmark_is_a_run_and_the_model_comes_from_args(tmp_path: Path) -> None:
    body = {"messages": [{"role": "user", "content": "Q"}]}
    document = {
        "args": {"target": "http://localhost:8000", "model": "args-model"},
        "benchmarks": [
            benchmark(
                {
                    "successful": [stats(f"b{k}", T + k, ttft=0.1, last=0.3, end=0.4, tokens=3, body=body)],
                    "incomplete": [],
                    "errored": [],
                },
                {"successful": 1, "incomplete": 0, "errored": 0},
                run_index=k - 1,
                strategy={"type_": "constant", "rate": 2.5 * k},
            )
            for k in (1, 2)
        ],
    }
    found = read(READER, write_json(tmp_path / "benchmarks.json", document))
    assert found.run.format == "guidellm v0.4"
    # benchmarks.json names every guidellm run: the content names the run, each benchmark a run of it.
    assert found.run.run.startswith("guidellm-")
    assert [result.labels["run"] for result in found.results] == [f"{found.run.run}-1", f"{found.run.run}-2"]
    assert [result.labels["rate"] for result in found.results] == ["2.5", "5"]
    assert [result.labels["run_index"] for result in found.results] == ["0", "1"]
    assert {result.model for result in found.results} == {"args-model"}
    # (0.3 - 0.1) * 1000 / 2 = 100.
    assert found.mean("time_per_output_token") == pytest.approx(100.0)
    assert found.positions == [1, 2]


def v03_response(request_id: str, start: float, *, tokens: int, ttft: float, last: float, end: float) -> dict[str, Any]:
    return {
        "type_": "generative_text_response",
        "request_id": request_id,
        "request_type": "chat_completions",
        "scheduler_info": {},
        "prompt": f"prompt {request_id}",
        "output": f"output {request_id}",
        "prompt_tokens": 7,
        "output_tokens": tokens,
        "start_time": start,
        "end_time": start + end,
        "first_token_time": start + ttft,
        "last_token_time": start + last,
        "request_latency": end,
        "time_to_first_token_ms": 1000 * ttft,
        # v0.3: (last - first) / tokens, and 0.0 at one token or none.
        "time_per_output_token_ms": 1000 * (last - ttft) / tokens,
        "inter_token_latency_ms": 1000 * (last - ttft) / (tokens - 1) if tokens > 1 else 0.0,
    }


def test_v03_file(tmp_path: Path) -> None:
    error = v03_response("e1", T + 2, tokens=1, ttft=0.1, last=0.1, end=0.5) | {
        "type_": "generative_text_error",
        "error": "timeout",
        "output": None,
        "first_token_time": None,
        "last_token_time": None,
    }
    document = {
        "benchmarks": [
            {
                "type_": "generative_benchmark",
                "id_": "b1",
                "run_id": "r3",
                "args": {"strategy_index": 2, "strategy": {"type_": "constant", "rate": 5.0}},
                "total_count": {"successful": 2, "incomplete": 0, "errored": 1},
                "requests": {
                    "successful": [
                        # field-bugs row 2 in v0.3: TPOT 100.0 from inter_token_latency_ms, not 90.9.
                        v03_response("s1", T, tokens=11, ttft=0.2, last=1.2, end=1.25),
                        # One token: v0.3 writes inter_token_latency_ms 0.0, which is no measurement.
                        v03_response("s2", T + 1, tokens=1, ttft=0.05, last=0.05, end=0.06),
                    ],
                    "incomplete": [],
                    "errored": [error],
                },
            }
        ]
    }
    found = read(READER, write_json(tmp_path / "v03.json", document))
    assert found.run.format == "guidellm v0.3 or earlier"
    assert (found.summary.count, found.summary.failed) == (2, 1)
    assert found.by_id("s1").time_per_output_token == pytest.approx(100.0)
    assert found.by_id("s2").time_per_output_token is None
    assert found.mean("time_to_first_token") == pytest.approx(125.0)  # 200, 50
    assert found.mean("total_generation_time") == pytest.approx(655.0)  # 1250, 60
    assert found.mean("token_count") == 6.0
    assert found.by_id("s1").timestamp == utc("2025-11-04T14:22:34.250000")  # end_time
    assert found.by_id("e1").timestamp == utc("2025-11-04T14:22:35.500000")
    assert found.by_id("e1").error == "timeout"
    assert found.by_id("s1").prompt_text == "prompt s1"
    assert found.by_id("s1").generated_text == "output s1"
    assert found.by_id("s1").labels == {
        "benchmark_index": "1",
        "rate": "5",
        "run": "v03",
        "run_id": "r3",
        "run_index": "2",
        "status": "successful",
        "strategy": "constant",
        "tool": "guidellm",
    }
    assert found.run.warnings == []


def test_the_example_file() -> None:
    found = read(READER, EXAMPLES / "guidellm-benchmarks-example.json")
    assert (found.summary.count, found.summary.failed) == (3, 2)
    assert found.mean("time_to_first_token") == pytest.approx((184.3 + 151.7 + 132.2) / 3)
    assert found.p50("time_to_first_token") == pytest.approx(151.7)
    assert found.mean("total_generation_time") == pytest.approx((293.1 + 212.5 + 132.6) / 3)
    # inter_token_latency_ms 21.68 and 20.1667; the one-token request has none. Never the
    # time_per_output_token_ms 48.78 and 53.05.
    assert found.mean("time_per_output_token") == pytest.approx((21.68 + 20.166666666666668) / 2)
    assert found.mean("token_count") == pytest.approx(11 / 3)
    assert found.results[0].timestamp == utc("2025-11-04T14:22:33.411834")
    assert found.results[-1].timestamp == utc("2025-11-04T14:22:33.898334")
    assert [result.labels["status"] for result in found.results] == ["successful"] * 3 + ["errored", "incomplete"]
    assert found.results[3].error is not None
    assert "503 Service Unavailable" in found.results[3].error
    assert found.results[0].prompt_text == "Summarize the water cycle in two sentences."
    assert found.results[0].model == "example-8b-instruct"
    assert found.results[0].labels["run_id"] == "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b"


def test_recognizes_every_generation_and_no_other_format(v07: Path) -> None:
    assert READER.recognizes((EXAMPLES / "guidellm-benchmarks-example.json").read_bytes()[:65536], "x")
    assert READER.recognizes(v07.read_bytes()[:65536], "benchmarks.json")
    assert all(READER.recognizes(head, "") for head in TOOL_HEADS["guidellm"])
    assert not any(READER.recognizes(head, "") for head in heads_other_than("guidellm"))


def test_a_truncated_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="not JSON"):
        read(READER, truncated(EXAMPLES / "guidellm-benchmarks-example.json", tmp_path / "benchmarks.json"))


@pytest.mark.parametrize("example", ["llmperf-example_summary.json", "llmperf-example_individual_responses.json"])
def test_a_file_of_another_format_is_unreadable_naming_what_was_expected(example: str) -> None:
    with pytest.raises(UnreadableFile, match=r"expected guidellm's benchmarks\.json"):
        read(READER, EXAMPLES / example)
