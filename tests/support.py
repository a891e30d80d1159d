"""Helpers shared by the test tiers: seed records, result files and a real HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from src.application.ports.result_store import SummaryKey
from src.domain.benchmark_result import BenchmarkResult
from src.domain.statistics import ResultSummary

SEED_FILE = Path(__file__).resolve().parent.parent / "test_database.json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: httpx.Response, status: int, *extensions: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status, carrying exactly these extension members."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) == PROBLEM_KEYS | set(extensions)
    assert body["status"] == status
    assert body["detail"]
    return body


def seed_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(SEED_FILE.read_text(encoding="utf-8"))["benchmarking_results"]
    return records


def record(request_id: str, timestamp: str, **metrics: Any) -> dict[str, Any]:
    """A valid seed-format record; metrics not given take plain defaults."""
    return {
        "request_id": request_id,
        "prompt_text": "prompt",
        "generated_text": "answer",
        "token_count": metrics.get("token_count", 10),
        "time_to_first_token": metrics.get("time_to_first_token", 100.0),
        "time_per_output_token": metrics.get("time_per_output_token", 20.0),
        "total_generation_time": metrics.get("total_generation_time", 300.0),
        "timestamp": timestamp,
    }


def as_record(result: BenchmarkResult) -> dict[str, Any]:
    return {
        "request_id": result.request_id,
        "token_count": result.token_count,
        "time_to_first_token": result.time_to_first_token,
        "time_per_output_token": result.time_per_output_token,
        "total_generation_time": result.total_generation_time,
        "timestamp": result.timestamp.isoformat(),
        "prompt_text": result.prompt_text,
        "generated_text": result.generated_text,
        "model": result.model,
        "labels": dict(result.labels),
        "prompt_token_count": result.prompt_token_count,
        "error": result.error,
    }


def write_result_file(path: Path, records: list[Mapping[str, Any]] | list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"benchmarking_results": records}), encoding="utf-8")
    return path


@contextmanager
def serving(app: Any, **config: Any) -> Iterator[str]:
    """Serve `app` over real HTTP on a free port for the duration of the block; yields its base URL.

    `config` goes to uvicorn.Config as it is (e.g. `http=` a protocol class)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def assert_same_summaries(found: dict[SummaryKey, ResultSummary], expected: dict[SummaryKey, ResultSummary]) -> None:
    """A store's summaries are the reference's: counts exactly, figures to the last digits, and
    percentiles either so (exact ones) or within the relative accuracy the summary states."""
    assert found.keys() == expected.keys()
    for key, want in expected.items():
        got = found[key]
        assert (got.count, got.failed, got.goodput) == (want.count, want.failed, want.goodput), key
        accuracy = got.percentile_accuracy
        for metric, stats in want.metrics.items():
            other = got.metrics[metric]
            if stats is None:
                assert other is None
                continue
            assert other is not None
            assert other.count == stats.count
            assert (other.minimum, other.maximum) == (stats.minimum, stats.maximum)
            # Sums in another order (numpy's pairwise, PostgreSQL's running) and PostgreSQL's own
            # interpolation formula differ from the reference in the last digits only.
            scale = max(abs(stats.minimum), abs(stats.maximum), 1e-300)
            assert other.mean == pytest.approx(stats.mean, rel=1e-9, abs=1e-12 * scale)
            assert other.stddev == pytest.approx(stats.stddev, rel=1e-9, abs=1e-9 * scale)
            assert [q for q, _ in other.percentiles] == [q for q, _ in stats.percentiles]
            for (_, value), (_, reference) in zip(other.percentiles, stats.percentiles, strict=True):
                if accuracy is None:
                    assert value == pytest.approx(reference, rel=1e-9, abs=1e-12 * scale)
                else:
                    # Doubles below 1e-300 lack the bits a relative accuracy needs.
                    assert abs(value - reference) <= accuracy * reference * (1 + 1e-9) + 1e-300, (value, reference)
