import math
from datetime import UTC, datetime
from typing import Any

import pytest

from src.domain.benchmark_result import MAX_MILLISECONDS, MAX_TOKEN_COUNT, BenchmarkResult
from src.domain.errors import InvalidResult
from tests.support import record


def test_a_seed_record_becomes_a_result_in_utc() -> None:
    result = BenchmarkResult.from_mapping(record("1", "2024-06-01T14:00:00+02:00", token_count=5))
    assert result.request_id == "1"
    assert result.token_count == 5
    assert result.timestamp == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert result.prompt_text == "prompt"


def test_unknown_fields_are_ignored_and_texts_may_be_absent() -> None:
    data = record("1", "2024-06-01T12:00:00") | {"model": "llama", "extra": [1, 2]}
    del data["prompt_text"], data["generated_text"]
    result = BenchmarkResult.from_mapping(data)
    assert (result.prompt_text, result.generated_text) == ("", "")


def test_integers_are_accepted_as_milliseconds_and_stored_as_floats() -> None:
    result = BenchmarkResult.from_mapping(record("1", "2024-06-01T12:00:00", time_to_first_token=150))
    assert isinstance(result.time_to_first_token, float)
    assert result.time_to_first_token == 150.0


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("request_id", "", "non-empty string"),
        ("request_id", 7, "non-empty string"),
        ("token_count", -1, "between 0 and"),
        ("token_count", 2.5, "must be an integer, got a number"),
        ("token_count", True, "must be an integer, got a boolean"),
        ("token_count", MAX_TOKEN_COUNT + 1, "between 0 and"),
        ("time_to_first_token", -0.5, "between 0 and"),
        ("time_to_first_token", math.nan, "finite"),
        ("time_per_output_token", math.inf, "finite"),
        ("total_generation_time", "300", "got a string"),
        ("total_generation_time", None, "is missing: a successful result needs it"),
        ("token_count", None, "is missing: a successful result needs it"),
        ("prompt_token_count", -3, "between 0 and"),
        ("error", "", "non-empty string"),
        ("error", 500, "non-empty string"),
        ("time_to_first_token", 301.0, "exceeds total_generation_time 300 ms"),
        ("total_generation_time", False, "got a boolean"),
        ("total_generation_time", 10**400, "between 0 and"),
        ("total_generation_time", MAX_MILLISECONDS * 2, "between 0 and"),
        ("timestamp", "2024-06-31T00:00:00", "ISO 8601"),
        ("timestamp", "2024-06-01", "time of day"),
        ("timestamp", 1717243200, "expected a string"),
        ("prompt_text", 5, "must be a string"),
    ],
)
def test_a_broken_rule_names_the_field_and_the_reason(field: str, value: Any, reason: str) -> None:
    data = record("1", "2024-06-01T12:00:00") | {field: value}
    with pytest.raises(InvalidResult) as refused:
        BenchmarkResult.from_mapping(data)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_a_missing_field_is_named() -> None:
    data = record("1", "2024-06-01T12:00:00")
    del data["timestamp"]
    with pytest.raises(InvalidResult) as refused:
        BenchmarkResult.from_mapping(data)
    assert (refused.value.field, refused.value.reason) == ("timestamp", "is missing")


def test_undefined_metrics_of_a_success_stay_undefined_never_zero() -> None:
    data = record("1", "2024-06-01T12:00:00", token_count=1)
    del data["time_to_first_token"]
    data["time_per_output_token"] = None
    result = BenchmarkResult.from_mapping(data)
    assert (result.time_to_first_token, result.time_per_output_token, result.prompt_token_count) == (None, None, None)
    assert result.succeeded


def test_a_failed_result_may_leave_every_metric_out() -> None:
    failed = BenchmarkResult.from_mapping(
        {
            "request_id": "f",
            "timestamp": "2024-06-01T12:00:00Z",
            "error": "Internal Server Error",
            "prompt_token_count": 7,
        }
    )
    assert not failed.succeeded
    assert (failed.token_count, failed.total_generation_time, failed.prompt_token_count) == (None, None, 7)


def test_content_includes_the_error_and_the_input_tokens() -> None:
    base = record("1", "2024-06-01T12:00:00")
    first = BenchmarkResult.from_mapping(base)
    assert not first.same_content(BenchmarkResult.from_mapping(base | {"prompt_token_count": 3}))
    assert not first.same_content(BenchmarkResult.from_mapping(base | {"error": "timeout"}))
    assert first.same_content(BenchmarkResult.from_mapping(base))


def test_a_record_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidResult, match="must be a JSON object, got an array"):
        BenchmarkResult.from_mapping([1, 2])


def test_an_error_located_in_a_file_says_where() -> None:
    error = InvalidResult("token_count", "must be between 0 and 10").at(3, "req-4")
    assert (error.index, error.request_id) == (3, "req-4")
    assert str(error) == "result at index 3 request_id 'req-4': token_count must be between 0 and 10"


def test_results_with_the_same_request_id_are_the_same_result() -> None:
    first = BenchmarkResult.from_mapping(record("same", "2024-06-01T12:00:00", token_count=1))
    second = BenchmarkResult.from_mapping(record("same", "2024-06-02T12:00:00", token_count=2))
    assert first == second
    assert len({first, second}) == 1


@pytest.mark.parametrize("value", [-0.0, 0.0, 0, 5e-324, MAX_MILLISECONDS, 1.5])
def test_edge_milliseconds_are_kept_as_plain_floats(value: float) -> None:
    result = BenchmarkResult.from_mapping(
        record("1", "2024-06-01T12:00:00", total_generation_time=value, time_to_first_token=0.0)
    )
    assert type(result.total_generation_time) is float
    assert result.total_generation_time == value
    assert math.copysign(1.0, result.total_generation_time) == 1.0  # -0.0 is stored as 0.0


def test_a_timestamp_given_in_another_zone_is_stored_in_utc() -> None:
    moment = datetime.fromisoformat("2024-06-01T14:00:00+02:00")
    result = BenchmarkResult("1", 1, 1.0, 1.0, 1.0, moment)
    assert result.timestamp.tzinfo is UTC
    assert result.timestamp == moment
