"""The contract every result store passes, run unchanged against each adapter."""

from collections.abc import Callable, Iterator
from datetime import UTC, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from src.adapters.json_store.store import JsonFileResultStore
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.store import SqlResultStore
from src.application.ports.result_store import ResultStore
from src.domain.benchmark_result import METRICS, BenchmarkResult
from src.domain.result_aggregate import AverageSummary
from src.domain.time_window import TimeWindow
from src.domain.timestamps import parse_timestamp
from tests.databases import SQL_KINDS, emptied, scratch_database
from tests.strategies import result_sets, windows
from tests.support import as_record, seed_records, write_result_file

StoreFactory = Callable[[list[BenchmarkResult]], ResultStore]

# Files written for the stores spell each timestamp in a different offset, naive ones included.
_SPELLINGS = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)), None)


def _spelled(result: BenchmarkResult, index: int) -> dict[str, Any]:
    spelling = _SPELLINGS[index % len(_SPELLINGS)]
    moment = result.timestamp.replace(tzinfo=None) if spelling is None else result.timestamp.astimezone(spelling)
    return as_record(result) | {"timestamp": moment.isoformat()}


def _json_file_store(directory: Path) -> StoreFactory:
    def build(results: list[BenchmarkResult]) -> ResultStore:
        path = write_result_file(directory / "results.json", [_spelled(r, i) for i, r in enumerate(results)])
        return JsonFileResultStore.load(path)

    return build


@pytest.fixture(params=["json_file", *SQL_KINDS])
def make_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreFactory]:
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "json_file":
        yield _json_file_store(directory)
        return
    with scratch_database(request.param, directory) as url:
        # One store per test, emptied for each data set: hypothesis builds many data sets in one test.
        store = SqlResultStore.open(database_url(url))

        def build(results: list[BenchmarkResult]) -> ResultStore:
            emptied(url)
            for first in range(0, len(results), 7):  # several batches, as real writers send them
                store.add(results[first : first + 7])
            return store

        yield build
        store.close()


@pytest.fixture
def seed_store(make_store: StoreFactory) -> ResultStore:
    return make_store([BenchmarkResult.from_mapping(record) for record in seed_records()])


def test_all_seed_results(seed_store: ResultStore) -> None:
    assert seed_store.aggregate().summary() == AverageSummary(5, 10.2, 216.0, 27.6, 485.2)


def test_both_window_bounds_are_included(seed_store: ResultStore) -> None:
    window = TimeWindow.parse("2024-06-01T12:00:00Z", "2024-06-01T13:00:00Z")
    assert seed_store.aggregate(window).summary() == AverageSummary(2, 5.5, 175.0, 27.5, 325.0)


def test_a_window_one_microsecond_short_misses_the_bound(seed_store: ResultStore) -> None:
    window = TimeWindow.parse("2024-06-01T12:00:00.000001Z", "2024-06-01T12:59:59.999999Z")
    assert seed_store.aggregate(window).count == 0


def test_a_date_window_covers_the_whole_day(seed_store: ResultStore) -> None:
    assert seed_store.aggregate(TimeWindow.parse("2024-06-02", "2024-06-02")).count == 2


def test_an_instant_window_holds_the_result_at_that_instant(seed_store: ResultStore) -> None:
    window = TimeWindow.parse("2024-06-02T12:00:00+02:00", "2024-06-02T10:00:00Z")
    assert seed_store.aggregate(window).summary() == AverageSummary(1, 10.0, 250.0, 35.0, 600.0)


@pytest.mark.parametrize(("start", "end"), [("2023-01-01", "2024-05-31"), ("2024-06-03", "2030-01-01")])
def test_a_window_outside_the_data_is_empty(seed_store: ResultStore, start: str, end: str) -> None:
    assert seed_store.aggregate(TimeWindow.parse(start, end)).summary() == AverageSummary(0, None, None, None, None)


def test_an_empty_store(make_store: StoreFactory) -> None:
    store = make_store([])
    assert store.aggregate().count == 0
    assert store.aggregate(TimeWindow.parse("2024-01-01", "2024-12-31")).count == 0


def test_small_values_next_to_huge_ones_keep_their_digits(make_store: StoreFactory) -> None:
    # Running sums would be ~1e12 around the small window and cancel every digit of it.
    huge = [_result(f"h{i}", f"2024-06-01T0{i}:00:00Z", 1e12) for i in range(5)]
    small = [_result(f"s{i}", f"2024-06-01T1{i}:00:00Z", 1e-6 * (i + 1)) for i in range(5)]
    later = [_result(f"l{i}", f"2024-06-01T2{i}:00:00Z", 1e12) for i in range(3)]
    store = make_store(huge + small + later)
    summary = store.aggregate(TimeWindow.parse("2024-06-01T10:00:00Z", "2024-06-01T19:00:00Z")).summary()
    assert summary.count == 5
    assert summary.average_time_to_first_token == pytest.approx(3e-6, rel=1e-12)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(results=result_sets(max_size=30), window=windows())
def test_random_results_and_windows_give_the_exact_means(
    make_store: StoreFactory, results: list[BenchmarkResult], window: TimeWindow
) -> None:
    store = make_store(results)
    inside = [result for result in results if window.start <= result.timestamp <= window.end]
    summary = store.aggregate(window).summary()
    assert summary.count == len(inside)
    for metric in METRICS:
        average = getattr(summary, f"average_{metric}")
        if not inside:
            assert average is None
            continue
        exact = sum((Fraction(getattr(result, metric)) for result in inside), Fraction(0)) / len(inside)
        assert abs(Fraction(average) - exact) <= exact / 10**9


def _result(request_id: str, timestamp: str, milliseconds: float) -> BenchmarkResult:
    return BenchmarkResult(
        request_id=request_id,
        token_count=1,
        time_to_first_token=milliseconds,
        time_per_output_token=milliseconds,
        total_generation_time=milliseconds,
        timestamp=parse_timestamp(timestamp),
    )
