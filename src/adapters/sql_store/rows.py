"""A row of `results` back as a result, the same for every database (the other way is the domain's row_of)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row

from src.domain.benchmark_result import BenchmarkResult

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
