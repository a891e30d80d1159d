"""A result as a row of `results` and back, the same for every database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row

from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_columns import canonical_labels
from src.domain.timestamps import microseconds_since_epoch

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_row(result: BenchmarkResult) -> tuple[Any, ...]:
    """A result as a row of `results`, in column order: its timestamp in integer microseconds
    since the Unix epoch, labels as canonical JSON text."""
    return (
        result.request_id,
        microseconds_since_epoch(result.timestamp),
        result.token_count,
        result.time_to_first_token,
        result.time_per_output_token,
        result.total_generation_time,
        result.prompt_text,
        result.generated_text,
        result.model,
        canonical_labels(result.labels),
        result.prompt_token_count,
        result.error,
    )


def as_result(row: Row[Any]) -> BenchmarkResult:
    """A row of `results` (every column, by name) as a result in UTC; its labels a mapping
    (PostgreSQL's JSONB) or JSON text (SQLite)."""
    labels = row.labels if isinstance(row.labels, dict) else json.loads(row.labels)
    return BenchmarkResult(
        request_id=row.request_id,
        token_count=row.token_count,
        time_to_first_token=row.time_to_first_token,
        time_per_output_token=row.time_per_output_token,
        total_generation_time=row.total_generation_time,
        timestamp=_EPOCH + timedelta(microseconds=row.recorded_at_us),
        prompt_text=row.prompt_text,
        generated_text=row.generated_text,
        model=row.model,
        labels=labels,
        prompt_token_count=row.prompt_token_count,
        error=row.error,
    )
