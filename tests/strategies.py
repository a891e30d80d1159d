"""Hypothesis strategies for benchmark results, shared by the unit and integration tiers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

from hypothesis import strategies as st

from src.domain.benchmark_result import MAX_MILLISECONDS, MAX_TOKEN_COUNT, BenchmarkResult, request_id_problem
from src.domain.time_window import TimeWindow

T = TypeVar("T")

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))

# A narrow span makes windows hit results often; microseconds make ties and near-misses likely.
moments = st.datetimes(min_value=datetime(2024, 6, 1), max_value=datetime(2024, 6, 3), timezones=offsets).map(
    lambda moment: moment.astimezone(UTC)
)

milliseconds = st.one_of(
    st.floats(min_value=0, max_value=MAX_MILLISECONDS, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10**6).map(float),
)


_texts = st.sampled_from(["", "a", "ü 漢字", "line\nbreak", '"quoted"'])


request_ids = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=8).filter(
    lambda text: request_id_problem(text) is None
)
token_counts = st.integers(min_value=0, max_value=MAX_TOKEN_COUNT)


def _maybe(values: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """Mostly a value, sometimes undefined (None)."""
    return st.one_of(values, values, values, st.none())


@st.composite
def results(draw: st.DrawFn, request_id: str | None = None, described: bool = False) -> BenchmarkResult:
    """A valid result, now and then a failed one or one with undefined metrics (TTFT, TPOT, input
    tokens); `described` adds texts, a model and labels, which the averaging rules never read."""
    failed = draw(st.integers(0, 5)) == 0
    first, last = sorted([draw(milliseconds), draw(milliseconds)])
    metrics = BenchmarkResult(
        request_id=request_id or draw(request_ids),
        token_count=draw(_maybe(token_counts) if failed else token_counts),
        time_to_first_token=draw(_maybe(st.just(first))),
        time_per_output_token=draw(_maybe(milliseconds)),
        total_generation_time=draw(_maybe(st.just(last)) if failed else st.just(last)),
        timestamp=draw(moments),
        prompt_token_count=draw(_maybe(token_counts)),
        error=draw(st.sampled_from(["Internal Server Error", "timeout"])) if failed else None,
    )
    if not described:
        return metrics
    # Few distinct texts keep generation cheap; the readers' own tests vary texts in depth.
    return replace(
        metrics,
        prompt_text=draw(_texts),
        model=draw(st.sampled_from([None, "llama-3-8b", "mistral-7b"])),
        labels=draw(st.dictionaries(st.sampled_from(["run", "gpu", "ü"]), _texts, max_size=2)),
    )


@st.composite
def result_sets(draw: st.DrawFn, max_size: int = 40, described: bool = False) -> list[BenchmarkResult]:
    """Results with distinct request ids, in no particular order."""
    size = draw(st.integers(min_value=0, max_value=max_size))
    return [draw(results(request_id=f"r{index}", described=described)) for index in range(size)]


@st.composite
def windows(draw: st.DrawFn) -> TimeWindow:
    first, second = draw(moments), draw(moments)
    return TimeWindow(min(first, second), max(first, second))
