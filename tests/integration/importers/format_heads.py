"""The leading bytes of every importable format, and helpers to read a written file with a reader,
so each reader's tests check that it recognizes its own files and no other format's."""

from __future__ import annotations

import json
from pathlib import Path

from src.application.ports.result_reader import (
    HEAD_BYTES,
    ImportOptions,
    ReadEntry,
    ResultReader,
    ToolFile,
    ToolRun,
    each_entry,
)
from src.domain.benchmark_result import BenchmarkResult
from src.domain.statistics import MetricStats, ResultSummary, summarize

# The tools' example files that come with the formats' specification: synthetic, 5 requests each, one failed.
FORMATS = Path(__file__).parent / "examples"
VLLM_EXAMPLE = FORMATS / "vllm-bench-serve-example.json"


def _example(name: str) -> bytes:
    return (FORMATS / name).read_bytes()[:HEAD_BYTES]


def _compact(value: object) -> bytes:
    return json.dumps(value).encode()


# One head per format (and version), as its tool writes it: single-line JSON unless the tool indents.
HEADS: dict[str, bytes] = {
    "seed": b'{"benchmarking_results": [{"request_id": "r1", "timestamp": "2026-01-01T00:00:00Z"',
    "ndjson": b'{"request_id": "r1", "timestamp": "2026-01-01T00:00:00Z", "token_count": 3}\n',
    "vllm": _example("vllm-bench-serve-example.json"),
    "vllm-compact": _compact(json.loads(VLLM_EXAMPLE.read_bytes())),
    "vllm-legacy": b'{"date": "20250301-120000", "backend": "vllm", "model_id": "m", "tokenizer_id": "m"',
    "sglang": b'{"backend": "sglang", "dataset_name": "random", "request_rate": Infinity, "max_concurrency": 8',
    "llm-load-test": b'{\n  "results": [\n    {\n      "user_id": 0,\n      "input_id": 3,',
    "llmperf-individual": _example("llmperf-example_individual_responses.json"),
    "llmperf-summary": _example("llmperf-example_summary.json"),
    "aiperf": _example("aiperf-profile_export-example.jsonl"),
    "genai-perf": b'{"experiments": [{"experiment": {"mode": "concurrency", "value": 4}, "requests": [',
    "guidellm-0.7": _example("guidellm-benchmarks-example.json"),
    "guidellm-0.4": b'{"args": {"target": "http://localhost:8000"}, "benchmarks": [{"type_": "generative_benchmark"',
    "guidellm-0.3": b'{"benchmarks": [{"type_": "generative_benchmark", "id_": "b1", "run_id": "r1"',
}


# Whole files of other formats, to give a reader that expects its own.
OTHER_FILES: dict[str, bytes] = {
    "seed": b'{"benchmarking_results": [{"request_id": "r1", "timestamp": "2026-01-01T00:00:00Z", "token_count": 3}]}',
    "ndjson": HEADS["ndjson"],
    "llmperf-individual": (FORMATS / "llmperf-example_individual_responses.json").read_bytes(),
    "llmperf-summary": (FORMATS / "llmperf-example_summary.json").read_bytes(),
    "aiperf": (FORMATS / "aiperf-profile_export-example.jsonl").read_bytes(),
    "guidellm-0.7": (FORMATS / "guidellm-benchmarks-example.json").read_bytes(),
    "genai-perf": b'{"experiments": [{"experiment": {"mode": "concurrency", "value": 4}, "requests": []}]}',
}


def others(*own: str) -> list[bytes]:
    """The heads of every format but `own`."""
    return [head for name, head in HEADS.items() if name not in own]


def read(reader: ResultReader, path: Path, options: ImportOptions | None = None) -> tuple[ToolRun, list[ReadEntry]]:
    """The run a reader finds in one file, and all its entries."""
    run = reader.read([ToolFile(path.name, path)], options or ImportOptions())
    return run, list(each_entry(run.entries))


def results(entries: list[ReadEntry]) -> list[BenchmarkResult]:
    return [entry.outcome for entry in entries if isinstance(entry.outcome, BenchmarkResult)]


def summary(entries: list[ReadEntry]) -> ResultSummary:
    """The domain's summary of the results read (metrics over the successes)."""
    return summarize(results(entries))


def stats(entries: list[ReadEntry], metric: str) -> MetricStats:
    found = summary(entries).metrics[metric]
    assert found is not None, f"no {metric} in the results"
    return found


def p50(found: MetricStats) -> float:
    return dict(found.percentiles)[50.0]
