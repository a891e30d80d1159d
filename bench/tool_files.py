"""Synthetic benchmark-tool files for the import benchmark, written as the tools write them, and
the same results as seed-format NDJSON lines (the import's yardstick).

- a `vllm bench serve --save-result --save-detailed` file: one JSON object (`json.dump`, no
  indent) with the per-request arrays, each request streaming about 200 tokens, one chunk each;
- an AIPerf `profile_export.jsonl`: one compact MetricRecordInfo per line, in completion order.

About 1% of the requests fail, each as its tool records a failure. Every file is written once
(from a fixed seed) and reused when present.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np

from src.adapters.importers.aiperf import AiperfReader
from src.adapters.importers.vllm import VllmReader
from src.application.ports.result_reader import ImportOptions, ResultReader, ToolFile, each_entry
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult

FAILED_SHARE = 0.01
MODEL = "example-org/example-8b-instruct"
# perf_counter's reading when the first request was sent, and AIPerf's epoch clock then.
PERF_COUNTER_ORIGIN = 350_000.0
EPOCH_ORIGIN_NS = 1_762_266_153_118_734_529
_TEXTS = (
    " Water evaporates, rises, cools and falls again as rain.",
    " 2, 3, 5, 7, 11, 13",
    " Bonjour — café ☕, merci.",
    " The quick brown fox jumps over the lazy dog.",
    " Yes.",
)
_VLLM_ERRORS = (
    "Internal Server Error",
    "Too Many Requests",
    "Never received a valid chunk to calculate TTFT.This response will be marked as failed!",
)


def write_vllm_file(path: Path, requests: int, failed_share: float = FAILED_SHARE, seed: int = 11) -> Path:
    """A vLLM --save-detailed result of `requests` requests at about 50 requests/s."""
    if path.exists():
        return path
    generator = np.random.default_rng(seed)
    failed = generator.random(requests) < failed_share
    input_lens = generator.integers(64, 1024, requests)
    output_lens = np.where(failed, 0, generator.integers(150, 251, requests))
    ttfts = np.where(failed, 0.0, generator.uniform(0.04, 0.6, requests))
    start_offsets = np.cumsum(generator.exponential(1 / 50, requests))
    itls: list[list[float]] = []
    latencies: list[float] = []
    for index in range(requests):
        if failed[index]:
            itls.append([])
            latencies.append(0.0)
            continue
        gaps = generator.gamma(8.0, 0.0025, int(output_lens[index]) - 1).tolist()
        itls.append(gaps)
        latencies.append(float(ttfts[index]) + math.fsum(gaps))
    errors = [_VLLM_ERRORS[index % len(_VLLM_ERRORS)] if failed[index] else "" for index in range(requests)]
    ok = ~failed
    latency = np.array(latencies)
    tokens = output_lens[ok]
    tpots = (latency[ok] - ttfts[ok]) / np.maximum(tokens - 1, 1)
    all_gaps = np.fromiter((gap for gaps in itls for gap in gaps), float)
    duration = float(np.max(start_offsets + latency))
    completed = int(ok.sum())
    result: dict[str, object] = {
        "date": "20251104-142233",
        "endpoint_type": "openai-chat",
        "backend": "openai-chat",
        "label": None,
        "model_id": MODEL,
        "tokenizer_id": MODEL,
        "num_prompts": requests,
        "request_rate": 50.0,
        "burstiness": 1.0,
        "max_concurrency": None,
        "duration": duration,
        "completed": completed,
        "failed": requests - completed,
        "total_input_tokens": int(input_lens[ok].sum()),
        "total_output_tokens": int(tokens.sum()),
        "request_throughput": completed / duration,
        "request_goodput": None,
        "output_throughput": float(tokens.sum()) / duration,
        "total_token_throughput": float(input_lens[ok].sum() + tokens.sum()) / duration,
        "input_lens": input_lens.tolist(),
        "output_lens": output_lens.tolist(),
        "ttfts": ttfts.tolist(),
        "itls": itls,
        "latencies": latencies,
        "start_times": (PERF_COUNTER_ORIGIN + start_offsets).tolist(),
        "queue_times": np.where(failed, 0.0, generator.uniform(0, 0.002, requests)).tolist(),
        "generated_texts": ["" if failed[index] else _TEXTS[index % len(_TEXTS)] for index in range(requests)],
        "errors": errors,
        "max_output_tokens_per_s": 12_000.0,
        "max_concurrent_requests": 64,
        "rtfx": 0.0,
    }
    for metric, values in (("ttft", ttfts[ok]), ("tpot", tpots), ("itl", all_gaps)):
        milliseconds = values * 1000
        result[f"mean_{metric}_ms"] = float(np.mean(milliseconds))
        result[f"median_{metric}_ms"] = float(np.median(milliseconds))
        result[f"std_{metric}_ms"] = float(np.std(milliseconds))
        result[f"p99_{metric}_ms"] = float(np.percentile(milliseconds, 99))
    del all_gaps
    _write_atomically(path, [json.dumps(result)])  # what json.dump(result, f) writes, in one call
    return path


def write_aiperf_file(path: Path, lines: int, failed_share: float = FAILED_SHARE, seed: int = 12) -> Path:
    """An AIPerf profile_export.jsonl of `lines` profiling records at about 200 requests/s,
    written as model_dump_json writes them, in the order the requests completed."""
    if path.exists():
        return path
    generator = np.random.default_rng(seed)
    failed = generator.random(lines) < failed_share
    starts = EPOCH_ORIGIN_NS + np.cumsum(generator.exponential(5e6, lines)).astype(np.int64)
    ttft_ns = generator.integers(40_000_000, 600_000_000, lines)
    output_tokens = generator.integers(150, 251, lines)
    latency_ns = ttft_ns + (output_tokens - 1) * generator.integers(15_000_000, 35_000_000, lines)
    ends = np.where(failed, starts + generator.integers(1_000_000, 50_000_000, lines), starts + latency_ns)
    input_tokens = generator.integers(64, 1024, lines)
    ids = generator.integers(0, 2**63, (lines, 2), dtype=np.int64)

    def records() -> Iterator[str]:
        for index in np.argsort(ends, kind="stable").tolist():
            request_id = str(uuid.UUID(int=(int(ids[index, 0]) << 64) | int(ids[index, 1]), version=4))
            metadata = (
                f'{{"session_num":{index},"x_request_id":"{request_id}","x_correlation_id":"{request_id}",'
                f'"conversation_id":"conv-{index:07d}","turn_index":0,"request_start_ns":{starts[index]},'
                f'"request_ack_ns":null,"request_end_ns":{ends[index]},"worker_id":"worker_{index % 8}",'
                f'"record_processor_id":"record_processor_{index % 4}","benchmark_phase":"profiling",'
                f'"was_cancelled":false,"cancellation_time_ns":null}}'
            )
            if failed[index]:
                yield (
                    f'{{"metadata":{metadata},"metrics":{{"error_isl":{{"value":{input_tokens[index]},'
                    f'"unit":"tokens"}}}},"error":{{"code":500,"type":"Internal Server Error",'
                    f'"message":"upstream worker restarted"}}}}\n'
                )
                continue
            ttft, latency = int(ttft_ns[index]) / 1e6, int(latency_ns[index]) / 1e6
            tokens = int(output_tokens[index])
            yield (
                f'{{"metadata":{metadata},"metrics":{{'
                f'"input_sequence_length":{{"value":{input_tokens[index]},"unit":"tokens"}},'
                f'"time_to_first_token":{{"value":{ttft!r},"unit":"ms"}},'
                f'"request_latency":{{"value":{latency!r},"unit":"ms"}},'
                f'"output_sequence_length":{{"value":{tokens},"unit":"tokens"}},'
                f'"inter_token_latency":{{"value":{(latency - ttft) / (tokens - 1)!r},"unit":"ms"}}'
                f'}},"error":null}}\n'
            )

    _write_atomically(path, records())
    return path


def write_ndjson(tool_file: Path, reader: ResultReader, path: Path) -> tuple[Path, int]:
    """The results our importer makes of `tool_file` (imported under its own name, no options),
    one seed-format line each; and how many there are."""
    counted = path.with_suffix(".count")
    if path.exists() and counted.exists():
        return path, int(counted.read_text())
    run = reader.read([ToolFile(tool_file.name, tool_file)], ImportOptions())
    results = 0

    def lines() -> Iterator[bytes]:
        nonlocal results
        for entry in each_entry(run.entries):
            if isinstance(entry.outcome, InvalidResult):
                raise RuntimeError(f"the generated file holds a request the importer refuses: {entry.outcome}")
            results += 1
            yield msgspec.json.encode(_seed_record(entry.outcome)) + b"\n"

    _write_atomically(path, lines())
    counted.write_text(str(results))
    return path, results


def _seed_record(result: BenchmarkResult) -> dict[str, object]:
    record: dict[str, object] = {
        "request_id": result.request_id,
        "timestamp": result.timestamp.isoformat().replace("+00:00", "Z"),
        "token_count": result.token_count,
        "time_to_first_token": result.time_to_first_token,
        "time_per_output_token": result.time_per_output_token,
        "total_generation_time": result.total_generation_time,
        "prompt_token_count": result.prompt_token_count,
        "prompt_text": result.prompt_text,
        "generated_text": result.generated_text,
        "model": result.model,
        "labels": dict(result.labels),
    }
    if result.error is not None:
        record["error"] = result.error
    return record


def _write_atomically(path: Path, chunks: Iterator[str] | Iterator[bytes] | list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as output:
        for chunk in chunks:
            output.write(chunk.encode() if isinstance(chunk, str) else chunk)
    partial.rename(path)


READERS: dict[str, ResultReader] = {"vllm": VllmReader(), "aiperf": AiperfReader()}
