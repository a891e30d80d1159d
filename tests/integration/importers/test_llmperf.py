"""llmperf's individual responses, with and without their summary, read by LlmperfReader."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from src.adapters.importers.llmperf import LlmperfReader
from src.domain.errors import MissingImportOption, UnreadableFile
from tests.integration.importers.tool_reading import (
    EXAMPLES,
    TOOL_HEADS,
    heads_other_than,
    read,
    truncated,
    utc,
    write_json,
)

READER = LlmperfReader()
RUN_END = 1762266154  # 2025-11-04T14:22:34Z


def response(ttft: float, e2e: float, tokens: int, *, code: object = None, message: str = "") -> dict[str, Any]:
    return {
        "error_code": code,
        "error_msg": message,
        "inter_token_latency_s": 0.0,
        "ttft_s": ttft,
        "end_to_end_latency_s": e2e,
        "request_output_throughput_token_per_s": tokens / e2e if e2e else 0,
        "number_total_tokens": tokens + 10,
        "number_output_tokens": tokens,
        "number_input_tokens": 10,
    }


def summary(**extra: Any) -> dict[str, Any]:
    return {
        "version": "2023-08-31",
        "name": "m_10_50_summary",
        "model": "m",
        "mean_input_tokens": 10,
        "stddev_input_tokens": 0,
        "mean_output_tokens": 50,
        "stddev_output_tokens": 0,
        "num_concurrent_requests": 2,
        "results_ttft_s_mean": 0.2,
        "results_num_requests_started": 3,
        "team": "perf",
        "timestamp": RUN_END,
        **extra,
    }


@pytest.fixture
def row_3(tmp_path: Path) -> list[Path]:
    """field-bugs row 3: OK1 ttft 100 e2e 900, OK2 ttft 300 e2e 1100 (50 tokens each), FAIL 500 with zeros."""
    records = [
        response(0.1, 0.9, 50),
        response(0.3, 1.1, 50),
        response(0, 0, 0, code=500, message="Internal Server Error"),
    ]
    return [
        write_json(tmp_path / "m_10_50_individual_responses.json", records, indent=4),
        write_json(tmp_path / "m_10_50_summary.json", summary(), indent=4),
    ]


def test_a_failure_with_zero_latencies_is_kept_as_failed_and_left_out_of_every_metric(row_3: list[Path]) -> None:
    found = read(READER, *row_3)
    assert found.summary.count == 2
    assert found.summary.failed == 1
    assert found.summary.error_rate == pytest.approx(1 / 3)
    # TTFT over the successes: (100 + 300) / 2 = 200, not (100 + 300 + 0) / 3 = 133.3.
    assert found.mean("time_to_first_token") == pytest.approx(200.0)
    assert found.p50("time_to_first_token") == pytest.approx(200.0)
    assert found.mean("total_generation_time") == pytest.approx(1000.0)
    assert found.p50("total_generation_time") == pytest.approx(1000.0)
    assert found.mean("token_count") == 50.0
    # TPOT (900 - 100) / 49 and (1100 - 300) / 49: both 800 / 49.
    assert found.mean("time_per_output_token") == pytest.approx(800 / 49)
    assert found.p50("time_per_output_token") == pytest.approx(800 / 49)
    failure = found.results[2]
    assert failure.error == "Internal Server Error"
    assert failure.labels["error_code"] == "500"
    assert (failure.token_count, failure.time_to_first_token, failure.total_generation_time) == (None, None, None)
    assert failure.time_per_output_token is None
    assert failure.prompt_token_count == 10


def test_the_summary_gives_the_model_the_labels_the_run_name_and_every_request_its_instant(row_3: list[Path]) -> None:
    found = read(READER, *row_3)
    assert found.run.run == "m_10_50"
    assert [result.request_id for result in found.results] == ["m_10_50#1", "m_10_50#2", "m_10_50#3"]
    assert {result.model for result in found.results} == {"m"}
    assert {result.timestamp for result in found.results} == {utc("2025-11-04T14:22:34")}
    assert found.results[0].labels == {
        "mean_input_tokens": "10",
        "mean_output_tokens": "50",
        "num_concurrent_requests": "2",
        "run": "m_10_50",
        "stddev_input_tokens": "0",
        "stddev_output_tokens": "0",
        "team": "perf",
        "tool": "llmperf",
    }
    assert len(found.run.warnings) == 2
    assert "estimates" in found.run.warnings[0]
    assert "Llama tokenizer" in found.run.warnings[0]
    assert "run's timestamp" in found.run.warnings[1]


def test_the_files_are_told_apart_by_content_in_either_order_and_without_names(
    row_3: list[Path], tmp_path: Path
) -> None:
    (tmp_path / "a").write_bytes(row_3[1].read_bytes())
    (tmp_path / "b").write_bytes(row_3[0].read_bytes())
    found = read(READER, tmp_path / "a", tmp_path / "b")
    assert found.summary.count == 2
    assert found.run.run == "a"
    assert {result.model for result in found.results} == {"m"}


def test_field_bugs_row_4_tpot_is_derived_never_llmperfs_inter_token_latency(tmp_path: Path) -> None:
    record = response(0.5, 1.5, 11) | {"inter_token_latency_s": 0.13636}
    path = write_json(tmp_path / "r_individual_responses.json", [record], indent=4)
    found = read(READER, path, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    # (1500 - 500) / (11 - 1) = 100.0, not 136.4.
    assert found.results[0].time_per_output_token == pytest.approx(100.0)


def test_the_individual_file_alone_needs_the_runs_timestamp(tmp_path: Path) -> None:
    path = write_json(tmp_path / "m_individual_responses.json", [response(0.1, 0.9, 50)], indent=4)
    with pytest.raises(MissingImportOption) as refused:
        read(READER, path)
    assert refused.value.parameter == "timestamp"
    found = read(READER, path, timestamp=datetime(2026, 1, 20, 10, 15, tzinfo=UTC), model="given-model")
    assert found.run.run == "m"
    assert found.results[0].timestamp == utc("2026-01-20T10:15:00")
    assert found.results[0].model == "given-model"
    assert found.results[0].labels == {"run": "m", "tool": "llmperf"}
    assert "the given timestamp" in found.run.warnings[1]


def test_one_malformed_record_is_refused_alone(tmp_path: Path) -> None:
    records = [response(0.1, 0.9, 50), response(0.1, 0.9, 50) | {"ttft_s": "fast"}, [1, 2]]
    path = write_json(tmp_path / "m_individual_responses.json", records, indent=4)
    found = read(READER, path, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    assert len(found.results) == 1
    assert [(refused.index, refused.field) for refused in found.refused] == [(2, "ttft_s"), (3, None)]


def test_the_example_files_give_the_summarys_figures() -> None:
    found = read(
        READER,
        EXAMPLES / "llmperf-example_individual_responses.json",
        EXAMPLES / "llmperf-example_summary.json",
    )
    assert (found.summary.count, found.summary.failed) == (4, 1)
    # The summary's results_ttft_s_mean 0.17875, p50 0.168; end_to_end mean 0.246775, p50 0.25335.
    assert found.mean("time_to_first_token") == pytest.approx(178.75)
    assert found.p50("time_to_first_token") == pytest.approx(168.0)
    assert found.mean("total_generation_time") == pytest.approx(246.775)
    assert found.p50("total_generation_time") == pytest.approx(253.35)
    # results_number_output_tokens_mean 5.0 (7, 5, 2, 6); p50 5.5.
    assert found.mean("token_count") == 5.0
    assert found.p50("token_count") == 5.5
    # TPOT: (293.6-184.3)/6, (213.1-151.7)/4, (133.1-132.2)/1, (347.3-246.8)/5.
    tpots = [109.3 / 6, 61.4 / 4, 0.9, 100.5 / 5]
    assert found.mean("time_per_output_token") == pytest.approx(sum(tpots) / 4)
    assert found.results[0].timestamp == found.results[-1].timestamp == utc("2025-11-04T14:22:34")
    assert found.results[-1].error == '{"error":{"message":"rate limit exceeded","code":429}}'
    assert found.results[0].model == "example-8b-instruct"
    assert found.results[0].labels["run_label"] == "nightly"
    assert found.results[0].labels["num_concurrent_requests"] == "4"
    assert found.run.run == "llmperf-example"


def test_recognizes_both_files_and_no_other_format() -> None:
    assert READER.recognizes((EXAMPLES / "llmperf-example_individual_responses.json").read_bytes(), "x")
    assert READER.recognizes((EXAMPLES / "llmperf-example_summary.json").read_bytes(), "x")
    assert all(READER.recognizes(head, "") for head in TOOL_HEADS["llmperf"])
    assert not any(READER.recognizes(head, "") for head in heads_other_than("llmperf"))


def test_a_truncated_file_is_unreadable(tmp_path: Path) -> None:
    cut = truncated(EXAMPLES / "llmperf-example_individual_responses.json", tmp_path / "x_individual_responses.json")
    with pytest.raises(UnreadableFile, match="not JSON"):
        read(READER, cut, timestamp=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("example", ["guidellm-benchmarks-example.json", "aiperf-profile_export-example.jsonl"])
def test_a_file_of_another_format_is_unreadable(example: str) -> None:
    with pytest.raises(UnreadableFile) as refused:
        read(READER, EXAMPLES / example, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    assert refused.value.file_format == "llmperf"


def test_another_tools_array_is_unreadable_naming_what_was_expected(tmp_path: Path) -> None:
    path = write_json(tmp_path / "x.json", [{"request_id": "a", "latency": 1}])
    with pytest.raises(UnreadableFile, match="expected llmperf's"):
        read(READER, path, timestamp=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_summary_alone_holds_no_requests(row_3: list[Path]) -> None:
    with pytest.raises(UnreadableFile, match="no per-request records"):
        read(READER, row_3[1])
    with pytest.raises(UnreadableFile):
        read(READER, row_3[0], row_3[0])
