"""The vLLM reader on files written from the specification of `vllm bench serve` (current, appended,
legacy, plain --save-result) and on the field's known faults (field-bugs.md rows 8, 9, 11)."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from src.adapters.importers.run_context import epoch_seconds
from src.adapters.importers.vllm import VllmReader
from src.application.ports.result_reader import ImportOptions, ToolFile, each_entry
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult, MissingImportOption, UnreadableFile
from tests.integration.importers.format_heads import (
    HEADS,
    OTHER_FILES,
    VLLM_EXAMPLE,
    others,
    p50,
    read,
    results,
    stats,
    summary,
)

READER = VllmReader()
UTC_ASSUMED = "UTC was assumed"


def run_object(**changes: Any) -> dict[str, Any]:
    """A small current run (--save-result --save-detailed), keys in vLLM's write order: three
    requests, the last failed. Changes replace keys; a change to None removes the key."""
    run: dict[str, Any] = {
        "date": "20260120-101500",
        "endpoint_type": "openai-chat",
        "backend": "openai-chat",
        "label": "nightly",
        "model_id": "org/model-8b",
        "tokenizer_id": "org/model-8b",
        "num_prompts": 3,
        "gpu": "H100",
        "request_rate": 4.0,
        "burstiness": 1.0,
        "max_concurrency": 8,
        "duration": 3.0,
        "completed": 2,
        "failed": 1,
        "request_goodput": None,
        "input_lens": [10, 20, 30],
        "output_lens": [3, 2, 0],
        "ttfts": [0.1, 0.2, 0.0],
        "itls": [[0.05, 0.05], [0.1], []],
        "latencies": [0.2, 0.3, 0.0],
        "start_times": [1000.0, 1001.0, 1002.0],
        "queue_times": [0.0, 0.0, 0.0],
        "generated_texts": ["a b c", "d e", ""],
        "errors": ["", "", "Too Many Requests"],
        "mean_ttft_ms": 150.0,
        "p99_ttft_ms": 199.0,
    }
    run.update(changes)
    return {key: value for key, value in run.items() if value is not None}


def write(tmp_path: Path, *runs: dict[str, Any], name: str = "bench.json") -> Path:
    """Runs as vLLM writes them: json.dump, and with --append-result "\n" before each later run."""
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(run) for run in runs), encoding="utf-8")
    return path


def test_the_specification_example_imports_every_request() -> None:
    run, entries = read(READER, VLLM_EXAMPLE)
    assert (run.tool, run.format, run.run) == ("vllm", "vllm", "vllm-bench-serve-example")
    assert [entry.position for entry in entries] == [1, 2, 3, 4, 5]
    found = results(entries)
    assert len(found) == 5
    assert summary(entries).count == 4
    assert summary(entries).failed == 1
    # TTFT 184.3, 151.7, 132.2, 246.8: mean 715/4 = 178.75 (vLLM's mean_ttft_ms), p50 (151.7+184.3)/2 = 168.0.
    ttft = stats(entries, "time_to_first_token")
    assert ttft.mean == pytest.approx(178.75)
    assert p50(ttft) == pytest.approx(168.0)
    # TPOT (e2e - TTFT)/(tokens - 1): 108.4/5 = 21.68, 60.5/3 = 20.1667, 99.6/4 = 24.9; the 1-token
    # request has none. Mean 22.24889 and p50 21.68, as vLLM's mean_tpot_ms and median_tpot_ms.
    tpot = stats(entries, "time_per_output_token")
    assert tpot.count == 3
    assert tpot.mean == pytest.approx(22.248888888888885)
    assert p50(tpot) == pytest.approx(21.68)
    # e2e 292.7, 212.2, 132.2, 346.4: mean 983.5/4 = 245.875, p50 (212.2+292.7)/2 = 252.45.
    e2e = stats(entries, "total_generation_time")
    assert e2e.mean == pytest.approx(245.875)
    assert p50(e2e) == pytest.approx(252.45)
    # Output tokens 6, 4, 1, 5: mean 4.0, p50 4.5; input tokens of the successes 12, 7, 10, 14: mean 10.75.
    assert stats(entries, "token_count").mean == pytest.approx(4.0)
    assert p50(stats(entries, "token_count")) == pytest.approx(4.5)
    assert stats(entries, "prompt_token_count").mean == pytest.approx(10.75)
    first, failed = found[0], found[4]
    assert first.request_id == "vllm-bench-serve-example#1"
    assert first.generated_text == " Water evaporates, then rains back."
    assert found[3].generated_text == " Bonjour — café ☕"
    # The run ends at 14:22:33 (date, UTC assumed) = the latest successful end on perf_counter,
    # request 4: 35412.370868229 + 0.3464 = 35412.717268229. Request 1 ends at
    # 35412.118734529 + 0.2927 = 35412.411434529, 0.3058337 s earlier: 14:22:32.694166.
    assert first.timestamp == datetime(2025, 11, 4, 14, 22, 32, 694166, tzinfo=UTC)
    assert found[3].timestamp == datetime(2025, 11, 4, 14, 22, 33, tzinfo=UTC)
    # The failure is stamped at its start, 35412.622336429: 0.0949318 s before the end.
    assert failed.timestamp == datetime(2025, 11, 4, 14, 22, 32, 905068, tzinfo=UTC)
    assert failed.error == "Internal Server Error"
    metrics = (failed.token_count, failed.time_to_first_token, failed.time_per_output_token)
    assert (*metrics, failed.total_generation_time) == (None, None, None, None)
    assert failed.prompt_token_count == 8
    assert first.model == "example-org/example-8b-instruct"
    assert first.labels == {
        "backend": "openai-chat",
        "burstiness": "1",
        "endpoint_type": "openai-chat",
        "gpu": "H100",
        "max_concurrency": "4",
        "request_rate": "inf",
        "run": "vllm-bench-serve-example",
        "tool": "vllm",
        "tp": "1",
    }
    assert len(run.warnings) == 1
    assert UTC_ASSUMED in run.warnings[0]


def test_the_date_is_read_in_the_given_timezone_without_a_warning() -> None:
    # 14:22:33 in Paris in November (UTC+1) is 13:22:33Z.
    run, entries = read(READER, VLLM_EXAMPLE, ImportOptions(timezone="Europe/Paris"))
    assert run.warnings == []
    assert results(entries)[3].timestamp == datetime(2025, 11, 4, 13, 22, 33, tzinfo=UTC)


@pytest.mark.parametrize(
    ("date", "zone"),
    [("00010101-000000", "UTC"), ("00010101-000000", "Asia/Tokyo"), ("99991231-235959", "America/Los_Angeles")],
)
def test_a_date_at_the_calendars_ends_is_refused_as_no_time_of_a_load_test(
    tmp_path: Path, date: str, zone: str
) -> None:
    # Reported: such dates answered 500 (OverflowError placing the requests), not a refusal.
    document = json.loads(VLLM_EXAMPLE.read_text(encoding="utf-8")) | {"date": date}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(UnreadableFile, match="no time of a load test"):
        read(READER, path, ImportOptions(timezone=zone))


def test_an_unknown_timezone_is_refused_naming_the_option() -> None:
    with pytest.raises(MissingImportOption) as refused:
        READER.read(*_one(VLLM_EXAMPLE, ImportOptions(timezone="Mars/Olympus")))
    assert refused.value.parameter == "timezone"


def test_perf_counter_start_times_place_requests_exactly(tmp_path: Path) -> None:
    """field-bugs row 9: start_times are perf_counter readings, not epoch seconds."""
    path = write(
        tmp_path,
        run_object(
            input_lens=[5, 5],
            output_lens=[10, 10],
            ttfts=[0.1, 0.1],
            itls=[[0.11] * 9, [0.1] * 9],
            latencies=[1.2, 1.0],
            start_times=[353399.7258, 353400.4852],
            queue_times=[0.0, 0.0],
            generated_texts=["x", "y"],
            errors=["", ""],
        ),
    )
    run, entries = read(READER, path, ImportOptions(timezone="UTC"))
    assert run.warnings == []
    first, second = results(entries)
    # Run end: max(353399.7258 + 1.2, 353400.4852 + 1.0) = 353401.4852 = 10:15:00Z. Starts
    # 1.7594 s and 1.0 s before it: 10:14:58.2406Z and 10:14:59.0000Z; completions 1.2 s and 1.0 s later.
    assert first.timestamp == datetime(2026, 1, 20, 10, 14, 59, 440600, tzinfo=UTC)
    assert second.timestamp == datetime(2026, 1, 20, 10, 15, 0, tzinfo=UTC)
    assert first.timestamp - timedelta(milliseconds=first.total_generation_time or 0) == datetime(
        2026, 1, 20, 10, 14, 58, 240600, tzinfo=UTC
    )
    assert second.timestamp - timedelta(milliseconds=1000) == datetime(2026, 1, 20, 10, 14, 59, tzinfo=UTC)
    # Read as epoch seconds, the first start would be 1970-01-05T02:09:59Z: refused as implausible.
    with pytest.raises(ValueError, match="monotonic clock"):
        epoch_seconds(353399.7258)


def test_server_token_count_wins_over_the_text(tmp_path: Path) -> None:
    """field-bugs row 11: 15 spaces re-tokenise to 1 token; the server counted 15."""
    path = write(
        tmp_path,
        run_object(
            input_lens=[4],
            output_lens=[15],
            ttfts=[0.12],
            itls=[[0.02] * 14],
            latencies=[0.4],
            start_times=[50.0],
            queue_times=[0.0],
            generated_texts=[" " * 15],
            errors=[""],
        ),
    )
    (result,) = results(read(READER, path)[1])
    assert result.token_count == 15
    # (400 - 120) / 14 = 20.0
    assert result.time_per_output_token == pytest.approx(20.0)
    assert result.generated_text == " " * 15


def test_appended_runs_are_runs_of_their_own(tmp_path: Path) -> None:
    second = run_object(date="20260120-111500", max_concurrency=16, gpu=None, label=None)
    path = write(tmp_path, run_object(), second, name="sweep.json")
    run, entries = read(READER, path, ImportOptions(timezone="UTC", labels=(("team", "perf"),)))
    assert run.run == "sweep"
    assert run.warnings == []
    # Positions count across the file; ids count within each run, named sweep-1 and sweep-2.
    assert [entry.position for entry in entries] == [1, 2, 3, 4, 5, 6]
    found = results(entries)
    assert [result.request_id for result in found] == [f"sweep-{k}#{i}" for k in (1, 2) for i in (1, 2, 3)]
    assert [result.labels["run"] for result in found] == ["sweep-1"] * 3 + ["sweep-2"] * 3
    assert found[0].labels == {
        "backend": "openai-chat",
        "burstiness": "1",
        "endpoint_type": "openai-chat",
        "gpu": "H100",
        "label": "nightly",
        "max_concurrency": "8",
        "request_rate": "4",
        "run": "sweep-1",
        "team": "perf",
        "tool": "vllm",
    }
    assert found[3].labels["max_concurrency"] == "16"
    assert "gpu" not in found[3].labels
    assert "label" not in found[3].labels
    # Each run ends at its date: the last successful end (1001.0 + 0.3) is 10:15:00Z, request 1
    # ends at 1000.2, 1.1 s earlier; the failure starts at 1002.0, 0.7 s after that end.
    assert [result.timestamp for result in found[:3]] == [
        datetime(2026, 1, 20, 10, 14, 58, 900000, tzinfo=UTC),
        datetime(2026, 1, 20, 10, 15, 0, tzinfo=UTC),
        datetime(2026, 1, 20, 10, 15, 0, 700000, tzinfo=UTC),
    ]
    assert found[4].timestamp == datetime(2026, 1, 20, 11, 15, 0, tzinfo=UTC)
    # Per run: TTFT 100 and 200 (the failure has none); TPOT (200-100)/2 = 50 and the 2-token (300-200)/1 = 100.
    assert summary(entries).count == 4
    assert summary(entries).failed == 2
    assert stats(entries, "time_to_first_token").mean == pytest.approx(150.0)
    assert stats(entries, "time_per_output_token").mean == pytest.approx(75.0)
    assert p50(stats(entries, "total_generation_time")) == pytest.approx(250.0)
    assert found[2].error == "Too Many Requests"


def test_a_legacy_file_imports_its_arrays(tmp_path: Path) -> None:
    """field-bugs row 8: benchmark_serving.py wrote "request_goodput:" and only the percentiles asked."""
    legacy = {
        "date": "20250301-120000",
        "backend": "vllm",
        "model_id": "org/legacy-7b",
        "tokenizer_id": "org/legacy-7b",
        "num_prompts": 3,
        "request_rate": "inf",
        "burstiness": 1.0,
        "max_concurrency": None,
        "duration": 2.0,
        "completed": 3,
        "total_input_tokens": 30,
        "total_output_tokens": 9,
        "request_throughput": 1.5,
        "request_goodput:": None,
        "output_throughput": 4.5,
        "total_token_throughput": 19.5,
        "input_lens": [10, 10, 10],
        "output_lens": [4, 3, 2],
        "ttfts": [0.08, 0.095, 0.11],
        "itls": [[0.02, 0.02, 0.02], [0.025, 0.025], [0.03]],
        "generated_texts": ["w x y z", "x y z", "y z"],
        "errors": ["", "", ""],
        "mean_ttft_ms": 95.0,
        "median_ttft_ms": 95.0,
        "std_ttft_ms": 12.25,
        "p25_ttft_ms": 80.0,
        "p50_ttft_ms": 95.0,
    }
    assert READER.recognizes(json.dumps(legacy).encode(), "legacy.json")
    run, entries = read(READER, write(tmp_path, legacy), ImportOptions(timezone="UTC"))
    assert run.format == "vllm (legacy benchmark_serving.py)"
    found = results(entries)
    assert len(found) == 3
    # e2e = ttft + sum(itls): 80 + 60 = 140, 95 + 50 = 145, 110 + 30 = 140.
    assert [result.total_generation_time for result in found] == [140.0, 145.0, 140.0]
    # TPOT (140-80)/3 = 20, (145-95)/2 = 25, (140-110)/1 = 30: mean 25, p50 25; TTFT mean 95, p50 95.
    assert stats(entries, "time_per_output_token").mean == pytest.approx(25.0)
    assert p50(stats(entries, "time_per_output_token")) == pytest.approx(25.0)
    assert stats(entries, "time_to_first_token").mean == pytest.approx(95.0)
    assert p50(stats(entries, "time_to_first_token")) == pytest.approx(95.0)
    # No start_times: every request gets the run's start, 12:00:00 - 2.0 s.
    assert {result.timestamp for result in found} == {datetime(2025, 3, 1, 11, 59, 58, tzinfo=UTC)}
    assert found[0].labels == {
        "backend": "vllm",
        "burstiness": "1",
        "request_rate": "inf",
        "run": "bench",
        "tool": "vllm",
    }
    assert found[0].model == "org/legacy-7b"
    assert len(run.warnings) == 2
    assert "timestamps are per run" in run.warnings[0]
    assert "ttfts + sum(itls)" in run.warnings[1]


def test_a_plain_save_result_file_is_refused(tmp_path: Path) -> None:
    # Without --save-detailed vLLM keeps latencies and queue_times only: no token count, no error.
    plain = run_object(
        input_lens=None, output_lens=None, ttfts=None, itls=None, start_times=None, generated_texts=None, errors=None
    )
    with pytest.raises(UnreadableFile, match=r"latencies only.*--save-detailed"):
        READER.read(*_one(write(tmp_path, plain)))
    aggregates = run_object(**{name: None for name in ("latencies", "queue_times", "input_lens", "output_lens")})
    aggregates = {key: value for key, value in aggregates.items() if not isinstance(value, list)}
    with pytest.raises(UnreadableFile, match=r"only aggregates.*--save-detailed"):
        READER.read(*_one(write(tmp_path, aggregates)))


def test_an_aggregate_only_run_among_detailed_ones_is_skipped_with_a_warning(tmp_path: Path) -> None:
    aggregates = {key: value for key, value in run_object().items() if not isinstance(value, list)}
    run, entries = read(READER, write(tmp_path, aggregates, run_object()), ImportOptions(timezone="UTC"))
    assert [result.labels["run"] for result in results(entries)] == ["bench-2"] * 3
    assert [entry.position for entry in entries] == [1, 2, 3]
    assert run.warnings == ["run bench-1 (line 1): " + _aggregates_only() + "; its requests are not imported"]


def _aggregates_only() -> str:
    return "the file holds only aggregates, no per-request arrays: rerun with --save-result --save-detailed"


def test_a_value_of_the_wrong_kind_refuses_only_its_request(tmp_path: Path) -> None:
    path = write(tmp_path, run_object(ttfts=[0.1, "fast", 0.0]))
    entries = read(READER, path, ImportOptions(timezone="UTC"))[1]
    assert isinstance(entries[0].outcome, BenchmarkResult)
    refused = entries[1].outcome
    assert isinstance(refused, InvalidResult)
    assert refused.field == "time_to_first_token"
    assert refused.index == 2
    assert refused.request_id == "bench#2"
    assert "ttfts[1]" in refused.reason


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"latencies": [0.2, 1e15, 0.0]}, "total_generation_time", "latencies[1]"),
        ({"latencies": [0.2, 1e300, 0.0]}, "total_generation_time", "latencies[1]"),
        ({"start_times": [1000.0, 1e300, 1002.0]}, "timestamp", "start_times[1]"),
        ({"latencies": None, "itls": [[0.05, 0.05], [1e300] * 5, []]}, "total_generation_time", "sum(itls[1])"),
    ],
)
def test_a_time_beyond_any_load_test_refuses_only_its_request(
    tmp_path: Path, changes: dict[str, Any], field: str, named: str
) -> None:
    # Such a reading once became the run's clock and overflowed the calendar placing the others.
    path = write(tmp_path, run_object(**changes))
    entries = read(READER, path, ImportOptions(timezone="UTC"))[1]
    assert isinstance(entries[0].outcome, BenchmarkResult)
    # The latest successful end left, the first request's, is the run's date.
    assert entries[0].outcome.timestamp == datetime(2026, 1, 20, 10, 15, tzinfo=UTC)
    refused = entries[1].outcome
    assert isinstance(refused, InvalidResult)
    assert refused.field == field
    assert named in refused.reason
    assert "no load test's" in refused.reason


def test_arrays_of_different_lengths_make_the_file_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="differ in length"):
        READER.read(*_one(write(tmp_path, run_object(errors=["", ""]))))


def test_a_truncated_file_is_unreadable(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_bytes(VLLM_EXAMPLE.read_bytes()[:900])
    with pytest.raises(UnreadableFile, match="not JSON"):
        READER.read(*_one(cut))
    appended = write(tmp_path, run_object(), run_object())
    appended.write_bytes(appended.read_bytes()[:-40])
    with pytest.raises(UnreadableFile, match="line 2"):
        READER.read(*_one(appended))


@pytest.mark.parametrize("name", sorted(OTHER_FILES))
def test_another_format_is_unreadable_naming_what_was_expected(tmp_path: Path, name: str) -> None:
    path = tmp_path / "other.json"
    path.write_bytes(OTHER_FILES[name])
    with pytest.raises(UnreadableFile) as refused:
        READER.read(*_one(path))
    assert refused.value.file_format == "vllm"
    assert "expected a vllm bench serve result" in refused.value.reason


def test_recognizes_its_files_and_no_other_format() -> None:
    assert READER.recognizes(HEADS["vllm"], VLLM_EXAMPLE.name)
    assert READER.recognizes(HEADS["vllm-compact"], "x.json")
    assert READER.recognizes(HEADS["vllm-legacy"], "x.json")
    assert not any(READER.recognizes(head, "x.json") for head in others("vllm", "vllm-compact", "vllm-legacy"))


def test_appended_runs_are_read_one_line_at_a_time(tmp_path: Path) -> None:
    requests = 200
    big = run_object(
        input_lens=[10] * requests,
        output_lens=[3] * requests,
        ttfts=[0.1] * requests,
        itls=[[0.05, 0.05]] * requests,
        latencies=[0.2] * requests,
        start_times=[1000.0 + i for i in range(requests)],
        queue_times=[0.0] * requests,
        generated_texts=["word " * 40] * requests,
        errors=[""] * requests,
    )
    runs = 60
    path = write(tmp_path, *([big] * runs))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        run = READER.read(*_one(path, ImportOptions(timezone="UTC")))
        count = sum(1 for _ in run.entries)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == requests * runs
    # The whole file decoded would take several times its size; one run at a time is a small part of it.
    assert peak < size / 3


def _one(path: Path, options: ImportOptions | None = None) -> tuple[list[ToolFile], ImportOptions]:
    return [ToolFile(path.name, path)], options or ImportOptions()


def test_a_run_on_one_line_is_held_once_with_its_chunk_gaps_undecoded(tmp_path: Path) -> None:
    requests, chunks = 2000, 200
    path = write(
        tmp_path,
        run_object(
            num_prompts=requests,
            input_lens=[10] * requests,
            output_lens=[chunks + 1] * requests,
            ttfts=[0.1] * requests,
            itls=[[0.012345678901234567] * chunks] * requests,
            latencies=[0.1 + 0.012345678901234567 * chunks] * requests,
            start_times=[1000.0 + i for i in range(requests)],
            queue_times=[0.0] * requests,
            generated_texts=["a b"] * requests,
            errors=[""] * requests,
        ),
    )
    size = path.stat().st_size
    tracemalloc.start()
    try:
        run = READER.read(*_one(path, ImportOptions(timezone="UTC")))
        count = sum(isinstance(entry.outcome, BenchmarkResult) for entry in each_entry(run.entries))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == requests
    # The gaps decoded would be a Python float each, about three times the file with the line read.
    assert peak < 1.5 * size


def test_chunk_gaps_of_the_wrong_kind_refuse_only_their_request_without_latencies(tmp_path: Path) -> None:
    path = write(tmp_path, run_object(itls=[[0.05, 0.05], [0.1, "slow"], []], latencies=None))
    entries = read(READER, path, ImportOptions(timezone="UTC"))[1]
    assert isinstance(entries[0].outcome, BenchmarkResult)
    assert entries[0].outcome.total_generation_time == pytest.approx(200.0)
    refused = entries[1].outcome
    assert isinstance(refused, InvalidResult)
    assert refused.field == "total_generation_time"
    assert "itls[1]" in refused.reason


def test_beside_latencies_the_chunk_gaps_are_left_unread(tmp_path: Path) -> None:
    path = write(tmp_path, run_object(itls=[[0.05, "late"], [0.1]]))
    found = results(read(READER, path, ImportOptions(timezone="UTC"))[1])
    assert [result.total_generation_time for result in found] == [200.0, 300.0, None]
