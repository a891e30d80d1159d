"""AIPerf's profile_export.jsonl, with and without profile_export_aiperf.json, read by AiperfReader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from src.adapters.importers.aiperf import AiperfReader
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

READER = AiperfReader()
START_NS = 1762266153_000_000_000  # 2025-11-04T14:22:33Z


def record(
    session: int,
    *,
    ttft: float | None = None,
    latency: float | None = None,
    osl: int | None = None,
    itl: float | None = None,
    phase: str = "profiling",
    error: dict[str, Any] | None = None,
    units: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A record as AIPerf writes it; request i ends at START + (i + 1) * 100 ms."""
    units = units or {}
    metrics: dict[str, Any] = {"input_sequence_length": {"value": 20, "unit": "tokens"}}
    for tag, value in (("time_to_first_token", ttft), ("request_latency", latency), ("inter_token_latency", itl)):
        if value is not None:
            metrics[tag] = {"value": value, "unit": units.get(tag, "ms")}
    if osl is not None:
        metrics["output_sequence_length"] = {"value": osl, "unit": "tokens"}
    if error is not None:
        metrics = {"error_isl": {"value": 8, "unit": "tokens"}}
    return {
        "metadata": {
            "session_num": session,
            "x_request_id": f"req-{session}",
            "conversation_id": f"conv-{session}",
            "turn_index": 0,
            "request_start_ns": START_NS,
            "request_end_ns": START_NS + (session + 1) * 100_000_000,
            "benchmark_phase": phase,
            "was_cancelled": False,
        },
        "metrics": metrics,
        "error": error,
    }


def write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(entry) + "\n" for entry in records), encoding="utf-8")
    return path


@pytest.fixture
def row_7(tmp_path: Path) -> Path:
    """field-bugs row 7: 9 successes with TTFT 100..900 and one failure, after 2 warmup records.
    Each success: e2e = TTFT + 1000, 11 output tokens, ITL (e2e - TTFT) / 10 = 100."""
    warmup = [record(90 + i, ttft=5, latency=50, osl=3, itl=22.5, phase="warmup") for i in range(2)]
    successes = [record(i, ttft=100.0 * i, latency=100.0 * i + 1000, osl=11, itl=100.0) for i in range(1, 10)]
    failure = record(10, error={"code": 503, "type": "Service Unavailable", "message": "no capacity"})
    return write_lines(tmp_path / "profile_export.jsonl", [*warmup, *successes, failure])


def test_field_bugs_row_7_keeps_the_failure_beside_the_percentiles(row_7: Path) -> None:
    found = read(READER, row_7)
    assert (found.summary.count, found.summary.failed) == (9, 1)
    assert found.summary.error_rate == pytest.approx(0.10)
    ttft = found.summary.metrics["time_to_first_token"]
    assert ttft is not None
    # p95 over 100..900: rank 8 * 0.95 = 7.6, so 800 + 0.6 * 100 = 860.
    assert ttft.percentiles[1][0] == 95.0
    assert ttft.percentiles[1][1] == pytest.approx(860.0)
    assert found.mean("time_to_first_token") == pytest.approx(500.0)
    assert found.p50("time_to_first_token") == pytest.approx(500.0)
    assert found.mean("total_generation_time") == pytest.approx(1500.0)
    assert found.p50("total_generation_time") == pytest.approx(1500.0)
    assert found.mean("time_per_output_token") == pytest.approx(100.0)
    assert found.mean("token_count") == 11.0
    assert found.mean("prompt_token_count") == 20.0
    failure = found.by_id("req-10")
    assert failure.error == "503 Service Unavailable: no capacity"
    assert failure.prompt_token_count == 8  # error_isl
    assert (failure.token_count, failure.time_to_first_token, failure.total_generation_time) == (None, None, None)


def test_warmup_is_skipped_and_counted_and_timestamps_are_the_request_ends(row_7: Path) -> None:
    found = read(READER, row_7)
    # Lines 1 and 2 are warmup: the results are lines 3 to 12.
    assert found.positions == list(range(3, 13))
    assert "skipped 2 warmup record(s)" in " ".join(found.run.warnings)
    assert "output_sequence_length" in found.run.warnings[0]
    assert found.results[0].timestamp == utc("2025-11-04T14:22:33.200000")
    assert found.results[-1].timestamp == utc("2025-11-04T14:22:34.100000")
    # profile_export is every AIPerf run's name: the run is named by the content instead.
    assert found.run.run.startswith("aiperf-")
    assert found.results[0].labels == {"run": found.run.run, "tool": "aiperf"}
    assert found.results[0].model is None


def test_the_aggregate_file_names_the_model_and_the_settings_in_either_order(row_7: Path, tmp_path: Path) -> None:
    aggregate = write_json(
        tmp_path / "profile_export_aiperf.json",
        {
            "request_latency": {"unit": "ms", "avg": 1500.0},
            "input_config": {
                "endpoint": {"model_names": ["llama-3-8b"], "type": "chat", "streaming": True},
                "loadgen": {"concurrency": 8, "request_rate": None},
            },
        },
    )
    found = read(READER, aggregate, row_7, run="nightly")
    assert {result.model for result in found.results} == {"llama-3-8b"}
    assert found.results[0].labels == {
        "concurrency": "8",
        "endpoint_type": "chat",
        "run": "nightly",
        "streaming": "true",
        "tool": "aiperf",
    }
    assert found.summary.count == 9


def test_without_the_aggregate_file_the_model_is_the_users(row_7: Path) -> None:
    assert {result.model for result in read(READER, row_7, model="given").results} == {"given"}


def test_units_are_converted_and_an_unknown_unit_refuses_its_request_alone(tmp_path: Path) -> None:
    seconds = record(1, ttft=0.25, latency=1_250_000_000, osl=11, itl=100_000, units={})
    seconds["metrics"]["time_to_first_token"]["unit"] = "s"
    seconds["metrics"]["request_latency"]["unit"] = "ns"
    seconds["metrics"]["inter_token_latency"]["unit"] = "us"
    minutes = record(2, ttft=1, latency=2, osl=11, units={"time_to_first_token": "min"})
    found = read(READER, write_lines(tmp_path / "units.jsonl", [seconds, minutes]))
    converted = found.by_id("req-1")
    assert converted.time_to_first_token == pytest.approx(250.0)
    assert converted.total_generation_time == pytest.approx(1250.0)
    assert converted.time_per_output_token == pytest.approx(100.0)
    (refused,) = found.refused
    assert (refused.index, refused.request_id, refused.field) == (2, "req-2", "time_to_first_token")
    assert "'min'" in refused.reason


def test_a_duplicate_key_keeps_its_last_value(tmp_path: Path) -> None:
    line = (
        '{"metadata": {"session_num": 0, "x_request_id": "dup", "request_start_ns": 1762266153000000000, '
        '"request_end_ns": 1762266153400000000, "benchmark_phase": "profiling"}, "metrics": {'
        '"time_to_first_token": {"value": 50.0, "unit": "ms"}, "request_latency": {"value": 400.0, "unit": "ms"}, '
        '"output_sequence_length": {"value": 4, "unit": "tokens"}, '
        '"time_to_first_token": {"value": 75.0, "unit": "ms"}}, "error": null}\n'
    )
    (tmp_path / "dup.jsonl").write_text(line, encoding="utf-8")
    found = read(READER, tmp_path / "dup.jsonl")
    assert found.results[0].time_to_first_token == 75.0
    # Our TPOT from the kept values, whatever AIPerf wrote: (400 - 75) / (4 - 1).
    assert found.results[0].time_per_output_token == pytest.approx(325 / 3)


def test_without_x_request_id_the_session_names_the_request(tmp_path: Path) -> None:
    entry = record(7, ttft=10, latency=20, osl=1)
    del entry["metadata"]["x_request_id"]
    found = read(READER, write_lines(tmp_path / "s.jsonl", [entry]), run="r")
    assert found.results[0].request_id == "r#session7"
    assert found.results[0].time_per_output_token is None


def test_the_example_file() -> None:
    found = read(READER, EXAMPLES / "aiperf-profile_export-example.jsonl")
    assert (found.summary.count, found.summary.failed) == (4, 1)
    assert found.mean("time_to_first_token") == pytest.approx(715.0 / 4)  # 184.3 + 151.7 + 132.2 + 246.8
    assert found.p50("time_to_first_token") == pytest.approx(168.0)
    assert found.mean("total_generation_time") == pytest.approx(983.5 / 4)  # 292.7 + 212.2 + 132.2 + 346.4
    assert found.mean("token_count") == 4.0  # 6, 4, 1, 5
    # The one-token request has no inter_token_latency: TPOT over the other three.
    assert found.mean("time_per_output_token") == pytest.approx((21.68 + 20.166667 + 24.9) / 3)
    assert found.results[0].timestamp == utc("2025-11-04T14:22:33.411435")  # ...411434528 ns, rounded
    assert found.results[-1].timestamp == utc("2025-11-04T14:22:33.624171")  # ...624170640 ns
    assert found.results[-1].error == "500 Internal Server Error: upstream model worker unavailable"
    assert found.results[-1].prompt_token_count == 8
    assert found.results[0].request_id == "9f1c2a00-5b7e-4c1d-9a3f-0e8d7c6b5a40"


def test_recognizes_its_records_and_no_other_format() -> None:
    assert READER.recognizes((EXAMPLES / "aiperf-profile_export-example.jsonl").read_bytes()[:65536], "x")
    assert all(READER.recognizes(head, "") for head in TOOL_HEADS["aiperf"])
    assert not any(READER.recognizes(head, "") for head in heads_other_than("aiperf"))


def test_a_truncated_file_is_unreadable(tmp_path: Path) -> None:
    cut = truncated(EXAMPLES / "aiperf-profile_export-example.jsonl", tmp_path / "profile_export.jsonl")
    with pytest.raises(UnreadableFile, match="truncated"):
        read(READER, cut)


@pytest.mark.parametrize(
    "example",
    ["guidellm-benchmarks-example.json", "llmperf-example_summary.json", "llmperf-example_individual_responses.json"],
)
def test_a_file_of_another_format_is_unreadable_naming_what_was_expected(example: str) -> None:
    with pytest.raises(UnreadableFile, match=r"expected AIPerf's profile_export\.jsonl"):
        read(READER, EXAMPLES / example)
