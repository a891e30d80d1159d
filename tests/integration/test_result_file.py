"""The JSON store's reading of result files: every bad file is refused with its problem named."""

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.adapters.json_store.result_file import ResultFileError, read_result_file
from src.adapters.json_store.store import JsonFileResultStore
from src.domain.benchmark_result import STORED_METRICS, BenchmarkResult
from src.domain.errors import DomainError, StoreUnavailable
from tests.support import SEED_FILE, record, write_result_file

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def refusal(path: Path) -> str:
    with pytest.raises(ResultFileError) as refused:
        JsonFileResultStore.load(path)
    assert refused.value.path == path
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return refused.value.problem


def test_the_shipped_seed_file_loads() -> None:
    assert JsonFileResultStore.load(SEED_FILE).aggregate().count == 5


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    assert "cannot read the file: No such file or directory" in refusal(tmp_path / "absent.json")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "cannot read the file" in refusal(tmp_path)


def test_a_file_that_is_not_json_is_refused_with_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"benchmarking_results": [\n  {"request_id": "1",,}\n]}')
    assert refusal(path) == "not valid JSON: Expecting property name enclosed in double quotes at line 2 column 22"


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "truncated.json"
    path.write_text(json.dumps({"benchmarking_results": [record("1", "2024-06-01T12:00:00")]})[:-10])
    assert refusal(path).startswith("not valid JSON")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    assert refusal(path).startswith("not valid JSON")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"benchmarking_results": [{"request_id": "\xe9"}]}')
    assert refusal(path) == "not UTF-8 text"


@pytest.mark.parametrize(
    "document",
    [[], {"results": []}, {"benchmarking_results": {}}, {"benchmarking_results": None}, "text", 5],
)
def test_a_file_of_the_wrong_shape_is_refused(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(document))
    assert refusal(path) == 'expected a JSON object with a "benchmarking_results" array'


def test_an_invalid_record_is_named_by_index_request_id_field_and_reason(tmp_path: Path) -> None:
    records = [record(str(index), "2024-06-01T12:00:00") for index in range(5)]
    records[3]["token_count"] = -4
    path = write_result_file(tmp_path / "results.json", records)
    assert refusal(path) == "result at index 3 request_id '3': token_count must be between 0 and 1000000000, got -4"


def test_a_malformed_timestamp_is_named(tmp_path: Path) -> None:
    records = [record("a", "2024-06-01T12:00:00"), record("b", "2024-06-31T12:00:00")]
    path = write_result_file(tmp_path / "results.json", records)
    assert refusal(path) == (
        "result at index 1 request_id 'b': timestamp must be an ISO 8601 date-time "
        "(day is out of range for month), got '2024-06-31T12:00:00'"
    )


def test_a_record_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"benchmarking_results": [record("a", "2024-06-01T12:00:00"), "oops"]}))
    assert refusal(path) == "result at index 1: must be a JSON object, got a string"


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    broken = record("a", "2024-06-01T12:00:00")
    del broken["total_generation_time"]
    path = write_result_file(tmp_path / "results.json", [broken])
    assert refusal(path) == (
        "result at index 0 request_id 'a': total_generation_time is missing: "
        "a successful result needs it (a failed one carries an error)"
    )


def test_a_duplicate_request_id_is_refused_with_both_positions(tmp_path: Path) -> None:
    records = [record(request_id, "2024-06-01T12:00:00") for request_id in ("a", "b", "c", "b")]
    path = write_result_file(tmp_path / "results.json", records)
    assert refusal(path) == "request_id 'b' appears twice, at index 1 and at index 3"


def test_a_byte_order_mark_and_unknown_fields_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    document = {"benchmarking_results": [record("a", "2024-06-01T12:00:00") | {"model": "m"}], "meta": 1}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document).encode())
    assert JsonFileResultStore.load(path).aggregate().count == 1


def test_an_empty_result_list_is_a_valid_empty_store(tmp_path: Path) -> None:
    path = write_result_file(tmp_path / "results.json", [])
    assert JsonFileResultStore.load(path).aggregate().count == 0


# The fast reader must never accept what the domain refuses, nor read a value differently.
field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**13), max_value=10**13),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    # Around the records' total_generation_time (300.0), so that a first token after the last is tried.
    st.sampled_from([0, 0.0, -0.0, 299.99, 300, 300.0, 300.01, 1e12]),
    st.sampled_from(
        [
            "timeout",
            "x" * 4097,
            "2024-06-01T12:00:00",
            "2024-06-01T12:00:00.1234567+05:30",
            "2024-06-01t12:00:00z",
            "2024-06-01",
            "2024-06-01T12",
            "0001-01-01T00:00:00+01:00",
            "2024-06-01T23:59:60Z",
            "2024-06-01T12:00:00.0000005z",
            "2024-06-01T12:00:00.9999995+01:00",
            "9999-12-31T23:59:59.9999999Z",
            "9999-12-31T23:00:00-01:00",
            "2024-06-01T12:00:00,5Z",
        ]
    ),
)


@st.composite
def raw_records(draw: st.DrawFn) -> dict[str, Any]:
    base = record(draw(st.sampled_from(["a", "b", ""])), "2024-06-01T12:00:00") | {"prompt_token_count": 7}
    # Now and then a failed result, which may leave any metric out.
    if draw(st.booleans()):
        base["error"] = draw(st.sampled_from(["timeout", "500 Internal Server Error"]))
    changed = draw(st.dictionaries(st.sampled_from([*sorted(base), "error"]), field_values, max_size=3))
    removed = draw(st.sets(st.sampled_from(sorted(base)), max_size=2))
    return {key: value for key, value in (base | changed).items() if key not in removed}


def domain_reading(records: list[dict[str, Any]]) -> list[BenchmarkResult] | None:
    try:
        results = [BenchmarkResult.from_mapping(raw) for raw in records]
    except DomainError:
        return None
    return results if len({result.request_id for result in results}) == len(results) else None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=200)
@given(st.lists(raw_records(), max_size=3))
def test_the_file_reader_agrees_with_the_domain(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    path = write_result_file(tmp_path / "results.json", records)
    expected = domain_reading(records)
    if expected is None:
        with pytest.raises(ResultFileError):
            read_result_file(path)
        return
    columns = read_result_file(path)
    assert columns.timestamps.tolist() == [(result.timestamp - EPOCH) // MICROSECOND for result in expected]
    for metric, column in zip(STORED_METRICS, columns.metrics, strict=True):
        read = [None if math.isnan(value) else value for value in column.tolist()]
        assert read == [None if (value := getattr(result, metric)) is None else float(value) for result in expected]
    failed = [False] * len(expected) if columns.failed is None else columns.failed.tolist()
    assert failed == [not result.succeeded for result in expected]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"generated_text": "a\u0000b"}, "generated_text must not contain the NUL character"),
        ({"labels": {"run": "x\u0000"}}, "labels must not contain the NUL character"),
        ({"labels": {"a:b": "x"}}, "labels keys must be 1 to 128 characters without ':'"),
        ({"model": ""}, "model must be a non-empty string or absent"),
        ({"request_id": "x" * 257}, "request_id must be at most 256 characters long"),
    ],
)
def test_the_file_refuses_what_the_database_cannot_keep(tmp_path: Path, extra: dict[str, Any], reason: str) -> None:
    records = [record("a", "2024-06-01T12:00:00"), record("b", "2024-06-01T12:00:00") | extra]
    path = write_result_file(tmp_path / "results.json", records)
    assert reason in refusal(path)
    assert "index 1" in refusal(path)


def test_model_and_labels_are_kept(tmp_path: Path) -> None:
    described = record("a", "2024-06-01T12:00:00") | {"model": "m", "labels": {"run": "b", "gpu": "a"}}
    store = JsonFileResultStore.load(write_result_file(tmp_path / "results.json", [described]))
    result = store.get("a")
    assert result is not None
    assert (result.model, list(result.labels.items())) == ("m", [("gpu", "a"), ("run", "b")])


def test_results_are_read_back_from_the_file_the_index_was_built_from(tmp_path: Path) -> None:
    path = write_result_file(tmp_path / "results.json", [record("a", "2024-06-01T12:00:00")])
    store = JsonFileResultStore.load(path)
    write_result_file(path, [record("b", "2024-06-01T12:00:00"), record("c", "2024-06-01T13:00:00")])
    with pytest.raises(StoreUnavailable, match="changed since the server started"):
        store.get("a")
    assert store.aggregate().count == 1


def test_failed_results_and_undefined_metrics_are_read_back_as_written(tmp_path: Path) -> None:
    failure = {"request_id": "f", "timestamp": "2024-06-01T12:00:00Z", "error": "timeout", "token_count": None}
    streamless = record("s", "2024-06-01T12:01:00") | {"time_to_first_token": None, "prompt_token_count": 12}
    del streamless["time_per_output_token"]
    path = write_result_file(tmp_path / "results.json", [failure, streamless, record("r", "2024-06-01T12:02:00")])
    store = JsonFileResultStore.load(path)
    assert store.get("f") == BenchmarkResult.from_mapping(failure)
    got = store.get("f")
    assert got is not None
    assert (got.error, got.token_count, got.time_to_first_token, got.total_generation_time) == (
        "timeout",
        None,
        None,
        None,
    )
    got = store.get("s")
    assert got is not None
    assert got.same_content(BenchmarkResult.from_mapping(streamless))
    assert (got.time_to_first_token, got.time_per_output_token, got.prompt_token_count) == (None, None, 12)
    averages = store.aggregate()
    assert (averages.count, averages.failed, averages.counts) == (2, 1, (2, 1, 1, 2))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"time_to_first_token": 301.0}, "time_to_first_token 301 ms exceeds total_generation_time 300 ms"),
        ({"token_count": None}, "token_count is missing: a successful result needs it"),
        ({"total_generation_time": None}, "total_generation_time is missing: a successful result needs it"),
        ({"error": ""}, "error must be a non-empty string, or null for a success"),
        ({"error": 5}, "error must be a non-empty string, or null for a success, got an integer"),
        ({"error": "x" * 4097}, "error must be at most 4096 characters long"),
        ({"error": "a\u0000"}, "error must not contain the NUL character"),
        ({"prompt_token_count": -1}, "prompt_token_count must be between 0 and 1000000000"),
        ({"error": "timeout", "time_to_first_token": 301.0}, "time_to_first_token 301 ms exceeds"),
    ],
)
def test_what_the_domain_refuses_of_the_new_fields_is_refused_and_named(
    tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    records = [record("a", "2024-06-01T12:00:00"), record("b", "2024-06-01T12:00:00") | change]
    path = write_result_file(tmp_path / "results.json", records)
    problem = refusal(path)
    assert reason in problem
    assert "index 1 request_id 'b'" in problem
