"""What the tool readers' tests share: reading a run to the end, the example files, and the
leading bytes of every format, so each reader is shown the others' files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from src.application.ports.result_reader import ImportOptions, ResultReader, ToolFile, ToolRun, each_entry
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult
from src.domain.statistics import ResultSummary, summarize

EXAMPLES = Path(__file__).parent / "examples"


@dataclass
class ReadRun:
    run: ToolRun
    results: list[BenchmarkResult]
    refused: list[InvalidResult]
    positions: list[int]

    @property
    def summary(self) -> ResultSummary:
        return summarize(self.results, percentiles=(50.0, 95.0))

    def mean(self, metric: str) -> float:
        stats = self.summary.metrics[metric]
        assert stats is not None
        return stats.mean

    def p50(self, metric: str) -> float:
        stats = self.summary.metrics[metric]
        assert stats is not None
        return stats.percentiles[0][1]

    def by_id(self, request_id: str) -> BenchmarkResult:
        return next(result for result in self.results if result.request_id == request_id)


def read(reader: ResultReader, *paths: Path, **options: Any) -> ReadRun:
    """Every entry of the run in `paths`, with warnings complete (the entries consumed)."""
    run = reader.read([ToolFile(path.name, path) for path in paths], ImportOptions(**options))
    entries = list(each_entry(run.entries))
    return ReadRun(
        run,
        [entry.outcome for entry in entries if isinstance(entry.outcome, BenchmarkResult)],
        [entry.outcome for entry in entries if isinstance(entry.outcome, InvalidResult)],
        [entry.position for entry in entries],
    )


def write_json(path: Path, document: object, indent: int | None = None) -> Path:
    path.write_text(json.dumps(document, indent=indent), encoding="utf-8")
    return path


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def truncated(path: Path, target: Path) -> Path:
    """A copy of `path` cut at two thirds, as a killed run or a partial download leaves it."""
    content = path.read_bytes()
    target.write_bytes(content[: len(content) * 2 // 3])
    return target


# The leading bytes of every other format the service reads, as their tools write them.
OTHER_HEADS: dict[str, bytes] = {
    "seed": b'{"benchmarking_results": [{"request_id": "a", "timestamp": "2026-01-01T00:00:00Z"}]}',
    "ndjson": b'{"request_id": "a", "timestamp": "2026-01-01T00:00:00Z", "token_count": 3}\n',
    "vllm": b'{"date": "20260120-101500", "endpoint_type": "openai-chat", "backend": "vllm", "label": null}',
    "vllm-appended": b'{"date": "20260120-101500", "backend": "vllm"}\n{"date": "20260120-111500"}\n',
    "sglang": b'{"backend": "sglang", "dataset_name": "random", "request_rate": Infinity, "max_concurrency": 8}\n',
    "llm-load-test": b'{"results": [{"user_id": 0, "input_id": 3, "input_tokens": 12}], "config": {}}',
}

# The leading bytes of the formats these tests cover, compact and indented where a tool writes both.
TOOL_HEADS: dict[str, list[bytes]] = {
    "llmperf": [
        b'[\n    {\n        "error_code": null,\n        "error_msg": "",\n        "inter_token_latency_s": 0.05',
        b'{\n    "version": "2023-08-31",\n    "name": "m_12_6_summary",\n    "model": "m",\n'
        b'    "mean_input_tokens": 12,\n    "num_concurrent_requests": 4,\n',
    ],
    "aiperf": [
        b'{"metadata":{"session_num":0,"x_request_id":"9f","request_start_ns":1762266153118734529},"metrics":{}}\n',
        b'{"metadata": {"session_num": 0, "x_request_id": "9f", "request_start_ns": 1762266153118734529}}\n',
    ],
    "genai-perf": [
        b'{"experiments":[{"experiment":{"mode":"concurrency","value":4},"requests":[{"timestamp":1762266153000000000,'
        b'"request_inputs":{"payload":"{}"},"response_timestamps":[],"response_outputs":[]}]}]}',
    ],
    "guidellm": [
        b'{"metadata":{"version":2,"guidellm_version":"0.7.3","python_version":"3.12.7"},"config":{},"benchmarks":[]}',
        b'{\n "metadata": {\n  "version": 1,\n  "guidellm_version": "0.5.1"\n },\n "benchmarks": [',
        b'{"args":{"target":"http://localhost:8000","model":"m"},"benchmarks":[{"type_":"generative_benchmark"}]}',
        b'{"benchmarks":[{"type_":"generative_benchmark","id_":"b1","run_id":"r1","args":{}}]}',
    ],
}


def heads_other_than(tool_format: str) -> list[bytes]:
    """Every head of a format other than `tool_format`."""
    ours = [head for name, heads in TOOL_HEADS.items() if name != tool_format for head in heads]
    return [*OTHER_HEADS.values(), *ours]
