"""The sglang reader on bench_serving JSON lines written from the specification: with and without
--output-details, Python's Infinity, several runs in one file, and no clock of its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from src.adapters.importers.sglang import SglangReader
from src.application.ports.result_reader import ImportOptions, ToolFile
from src.domain.errors import MissingImportOption, UnreadableFile
from tests.integration.importers.format_heads import HEADS, OTHER_FILES, VLLM_EXAMPLE, others, p50, read, results, stats

READER = SglangReader()
WHEN = datetime(2026, 2, 3, 9, 30, tzinfo=UTC)
STAMPED = ImportOptions(timestamp=WHEN)


def run_line(**changes: Any) -> dict[str, Any]:
    """One bench_serving run with --output-details, keys in its write order: three requests, the
    second failed. Changes replace keys; a change to None removes the key."""
    run: dict[str, Any] = {
        "backend": "sglang",
        "dataset_name": "random",
        "request_rate": float("inf"),
        "max_concurrency": 8,
        "sharegpt_output_len": None,
        "random_input_len": 1024,
        "random_output_len": 128,
        "random_range_ratio": 0.5,
        "duration": 2.5,
        "completed": 2,
        "total_input_tokens": 60,
        "total_output_tokens": 14,
        "total_output_tokens_retokenized": 14,
        "mean_e2e_latency_ms": 500.0,
        "p99_itl_ms": 50.0,
        "concurrency": 1.2,
        "input_lens": [20, 20, 20],
        "output_lens": [11, 0, 3],
        "ttfts": [0.1, 0.0, 0.3],
        "itls": [[0.05] * 10, [], [0.1, 0.1]],
        "generated_texts": ["ten words of output here and there you go ok", "", "a b c"],
        "errors": ["", "Traceback (most recent call last):\n  ConnectionResetError", ""],
    }
    run.update(changes)
    return {key: value for key, value in run.items() if value is not None}


def write(tmp_path: Path, *runs: dict[str, Any], name: str = "sglang_0203_3_1024_128.jsonl") -> Path:
    """Runs as bench_serving appends them: json.dumps (Infinity for inf) and a newline each."""
    path = tmp_path / name
    path.write_text("".join(json.dumps(run) + "\n" for run in runs), encoding="utf-8")
    return path


def test_a_detailed_run_imports_every_request(tmp_path: Path) -> None:
    path = write(tmp_path, run_line())
    assert b"Infinity" in path.read_bytes()
    run, entries = read(READER, path, STAMPED)
    assert (run.tool, run.format, run.run) == ("sglang", "sglang", "sglang_0203_3_1024_128")
    found = results(entries)
    assert [result.request_id for result in found] == [f"sglang_0203_3_1024_128#{i}" for i in (1, 2, 3)]
    # e2e = ttft + sum(itls): 100 + 500 = 600 and 300 + 200 = 500; mean 550, p50 550.
    assert [found[0].total_generation_time, found[2].total_generation_time] == [600.0, 500.0]
    assert stats(entries, "total_generation_time").mean == pytest.approx(550.0)
    assert p50(stats(entries, "total_generation_time")) == pytest.approx(550.0)
    # TTFT 100 and 300: mean 200. TPOT (600-100)/10 = 50 and (500-300)/2 = 100: mean 75, p50 75.
    assert stats(entries, "time_to_first_token").mean == pytest.approx(200.0)
    assert stats(entries, "time_per_output_token").mean == pytest.approx(75.0)
    assert p50(stats(entries, "time_per_output_token")) == pytest.approx(75.0)
    assert stats(entries, "token_count").mean == pytest.approx(7.0)
    failed = found[1]
    assert failed.error is not None
    assert failed.error.startswith("Traceback")
    assert (failed.token_count, failed.time_to_first_token, failed.total_generation_time) == (None, None, None)
    # The file has no clock: every request, first to last, gets the instant given.
    assert {result.timestamp for result in found} == {WHEN}
    assert found[0].model is None
    assert found[0].labels == {
        "backend": "sglang",
        "dataset_name": "random",
        "max_concurrency": "8",
        "random_input_len": "1024",
        "random_output_len": "128",
        "random_range_ratio": "0.5",
        "request_rate": "inf",
        "run": "sglang_0203_3_1024_128",
        "tool": "sglang",
    }
    # The sglang backend reports the server's token counts: no warning about them.
    assert len(run.warnings) == 2
    assert "timestamps are per run" in run.warnings[0]
    assert "approximate" in run.warnings[1]


def test_several_runs_are_named_by_their_line_and_another_backends_counts_are_flagged(tmp_path: Path) -> None:
    path = write(tmp_path, run_line(), run_line(backend="vllm", request_rate=16.0), name="sweep.jsonl")
    run, entries = read(READER, path, ImportOptions(timestamp=WHEN, model="org/served-model"))
    found = results(entries)
    assert [entry.position for entry in entries] == [1, 2, 3, 4, 5, 6]
    assert [result.request_id for result in found] == [f"sweep-{k}#{i}" for k in (1, 2) for i in (1, 2, 3)]
    assert [result.labels["run"] for result in found] == ["sweep-1"] * 3 + ["sweep-2"] * 3
    assert found[3].labels["request_rate"] == "16"
    assert found[3].model == "org/served-model"
    assert run.warnings[2:] == [
        "run sweep-2: token counts may be the requested output length, not the server's: backend 'vllm' does not "
        "always report usage (sglang #10746)"
    ]


def test_a_run_without_details_is_unreadable(tmp_path: Path) -> None:
    summary_only = {key: value for key, value in run_line().items() if not isinstance(value, list)}
    with pytest.raises(UnreadableFile, match="--output-details"):
        READER.read([ToolFile("x.jsonl", write(tmp_path, summary_only))], STAMPED)


def test_the_timestamp_option_is_required(tmp_path: Path) -> None:
    with pytest.raises(MissingImportOption) as refused:
        READER.read([ToolFile("x.jsonl", write(tmp_path, run_line()))], ImportOptions())
    assert refused.value.parameter == "timestamp"


def test_a_truncated_file_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, run_line(), run_line())
    path.write_bytes(path.read_bytes()[:-60])
    with pytest.raises(UnreadableFile, match="line 2"):
        READER.read([ToolFile("x.jsonl", path)], STAMPED)
    single = write(tmp_path, run_line(), name="one.jsonl")
    single.write_bytes(single.read_bytes()[:200])
    with pytest.raises(UnreadableFile, match="not JSON"):
        READER.read([ToolFile("one.jsonl", single)], STAMPED)


@pytest.mark.parametrize("name", [*sorted(OTHER_FILES), "vllm"])
def test_another_format_is_unreadable_naming_what_was_expected(tmp_path: Path, name: str) -> None:
    path = tmp_path / "other.jsonl"
    path.write_bytes(VLLM_EXAMPLE.read_bytes() if name == "vllm" else OTHER_FILES[name])
    with pytest.raises(UnreadableFile) as refused:
        READER.read([ToolFile(path.name, path)], STAMPED)
    assert refused.value.file_format == "sglang"
    assert "expected an sglang bench_serving run" in refused.value.reason
    if name == "vllm":
        assert "format vllm" in refused.value.reason


def test_recognizes_its_files_and_no_other_format(tmp_path: Path) -> None:
    assert READER.recognizes(HEADS["sglang"], "x.jsonl")
    assert READER.recognizes(write(tmp_path, run_line()).read_bytes(), "x.jsonl")
    assert not any(READER.recognizes(head, "x.jsonl") for head in others("sglang"))
