"""The contract every result store passes, run unchanged against each adapter."""

import math
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.adapters.json_store.store import JsonFileResultStore
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.stores import open_sql_store
from src.application.ports.result_store import PageKey, ResultPage, ResultQuery, ResultStore, RunQuery, SummaryQuery
from src.application.result_statistics import DescribeDistribution
from src.domain.benchmark_result import METRICS, BenchmarkResult
from src.domain.errors import InvalidStatisticsQuery, StoreIsReadOnly
from src.domain.histogram import Scale, bin_of, histogram
from src.domain.result_aggregate import AverageSummary
from src.domain.result_selection import Grouping, ResultFilter
from src.domain.statistics import STATISTIC_METRICS, ResultSummary, ServiceLevelObjective, metric_values
from src.domain.time_window import TimeWindow
from src.domain.timestamps import parse_timestamp
from tests.databases import SQL_KINDS, emptied, scratch_database
from tests.strategies import result_sets, windows
from tests.support import as_record, assert_same_summaries, record, seed_records, write_result_file
from tests.unit.fakes import FakeResultStore

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


# PostgreSQL twice: with exact percentiles up to its default size, which every data set here is
# under, and with sketched ones for every selection its summaries can answer.
_SKETCHED = "postgresql-sketched"


@pytest.fixture(params=["json_file", *SQL_KINDS, _SKETCHED])
def make_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreFactory]:
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "json_file":
        yield _json_file_store(directory)
        return
    kind, exact = (request.param, 20_000) if request.param != _SKETCHED else ("postgresql", 0)
    with scratch_database(kind, directory) as url:
        # One store per test, emptied for each data set: hypothesis builds many data sets in one test.
        store = open_sql_store(database_url(url), exact_percentile_results=exact)

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
@given(results=result_sets(max_size=30, described=True), window=windows())
def test_random_results_and_windows_give_the_exact_means(
    make_store: StoreFactory, results: list[BenchmarkResult], window: TimeWindow
) -> None:
    store = make_store(results)
    inside = [result for result in results if window.start <= result.timestamp <= window.end]
    summary = store.aggregate(window).summary()
    assert summary.count == sum(result.succeeded for result in inside)
    assert summary.failed == len(inside) - summary.count
    for metric in METRICS:
        average = getattr(summary, f"average_{metric}")
        values = [value for result in inside if result.succeeded and (value := getattr(result, metric)) is not None]
        if not values:
            assert average is None
            continue
        exact = sum((Fraction(value) for value in values), Fraction(0)) / len(values)
        # Below 2^-1022 floats are evenly spaced (subnormal): the nearest one to a tiny mean may
        # be a whole step of 2^-1074 away, so no store can do better than that step there.
        assert abs(Fraction(average) - exact) <= exact / 10**9 + Fraction(math.ulp(0.0))


def _result(request_id: str, timestamp: str, milliseconds: float) -> BenchmarkResult:
    return BenchmarkResult(
        request_id=request_id,
        token_count=1,
        time_to_first_token=milliseconds,
        time_per_output_token=milliseconds,
        total_generation_time=milliseconds,
        timestamp=parse_timestamp(timestamp),
    )


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(results=result_sets(max_size=25, described=True), window=windows(), limit=st.integers(min_value=1, max_value=7))
def test_pages_walk_the_window_in_time_then_id_order(
    make_store: StoreFactory, results: list[BenchmarkResult], window: TimeWindow, limit: int
) -> None:
    store = make_store(results)
    for model in (None, "llama-3-8b"):
        walked: list[BenchmarkResult] = []
        after = None
        for _ in range(len(results) + 1):
            page = store.page(ResultQuery(window, model, limit, after))
            assert len(page.results) <= limit
            walked += page.results
            after = page.next
            if after is None:
                break
        expected = sorted((r for r in results if r.timestamp in window and model in (None, r.model)), key=PageKey.of)
        assert [r.request_id for r in walked] == [r.request_id for r in expected]
        assert all(got.same_content(want) for got, want in zip(walked, expected, strict=True))


def test_a_result_reads_back_whole_and_an_absent_one_is_none(make_store: StoreFactory) -> None:
    sent = BenchmarkResult.from_mapping(
        record("one", "2024-06-01T14:00:00.123456+02:00") | {"model": "m", "labels": {"run": "a", "gpu": "h100"}}
    )
    store = make_store([sent])
    got = store.get("one")
    assert got is not None
    assert got.same_content(sent)
    assert got.timestamp.isoformat() == "2024-06-01T12:00:00.123456+00:00"
    assert store.get("two") is None
    store.check()


def test_ties_in_time_are_ordered_by_request_id_as_code_points(make_store: StoreFactory) -> None:
    ids = ["b", "a", "B", "é", "z", "aa", "Z"]
    store = make_store([BenchmarkResult.from_mapping(record(i, "2024-06-01T12:00:00Z")) for i in ids])
    assert [r.request_id for r in store.page(ResultQuery(limit=100)).results] == sorted(ids)


def test_windows_across_years_and_before_1970(make_store: StoreFactory) -> None:
    stamps = ["1969-12-31T23:59:59.999999Z", "1960-02-29T00:00:00Z", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"]
    store = make_store([_result(f"y{i}", stamp, float(i + 1)) for i, stamp in enumerate(stamps)])
    assert store.aggregate(TimeWindow.parse("1960-01-01", "1969-12-31")).count == 2
    assert store.aggregate(TimeWindow.parse("1969-12-31T23:59:59.999999Z", "2024-06-01")).count == 2
    summary = store.aggregate(TimeWindow.parse("0001-01-01", "9999-12-31")).summary()
    assert summary.count == 4
    assert summary.average_time_to_first_token == 2.5


def test_seed_statistics_computed_by_hand(seed_store: ResultStore) -> None:
    summary = seed_store.summarize(SummaryQuery())[(None, None)]
    assert summary.count == 5
    tokens = summary.metrics["token_count"]
    assert tokens is not None
    # 5, 6, 10, 12, 18: p90 sits 0.6 of the way from 12 to 18 (position 0.9 · 4 = 3.6).
    assert (tokens.mean, tokens.minimum, tokens.maximum) == (10.2, 5.0, 18.0)
    assert tokens.stddev == pytest.approx((108.8 / 5) ** 0.5, rel=1e-12)  # squared deviations sum to 108.8
    assert _percentiles(summary, "token_count") == _as_stated(summary, [10.0, 15.6, 16.8, 17.76])
    # 150, 180, 200, 250, 300 ms.
    assert _percentiles(summary, "time_to_first_token") == _as_stated(summary, [200.0, 280.0, 290.0, 298.0])
    assert _percentiles(summary, "time_per_output_token")[:2] == _as_stated(summary, [28.0, 33.0])
    assert _percentiles(summary, "total_generation_time")[:2] == _as_stated(summary, [516.0, 636.0])
    # tokens per second: 5/0.3, 6/0.35, 18/0.66, 10/0.6, 12/0.516; the median is 6/0.35.
    throughput = summary.metrics["output_throughput"]
    assert throughput is not None
    assert [throughput.percentiles[0][1]] == _as_stated(summary, [6 / 0.35])
    assert (throughput.minimum, throughput.maximum) == pytest.approx((5 / 0.3, 18 / 0.66), rel=1e-12)


def test_seed_goodput_counts_results_meeting_every_bound(seed_store: ResultStore) -> None:
    def goodput(objective: ServiceLevelObjective) -> int | None:
        return seed_store.summarize(SummaryQuery(objective=objective))[(None, None)].goodput

    assert goodput(ServiceLevelObjective(time_to_first_token=200)) == 3  # 150, 200 and 180 ms
    assert goodput(ServiceLevelObjective(time_to_first_token=200, total_generation_time=500)) == 2  # not 516 ms
    assert goodput(ServiceLevelObjective(time_per_output_token=19)) == 0


def test_statistics_of_nothing_are_no_summaries(make_store: StoreFactory) -> None:
    store = make_store([])
    assert store.summarize(SummaryQuery(group_by=Grouping(), bucket_width=60_000_000)) == {}
    assert store.summarize(SummaryQuery()) == {}
    assert all(values == [] for values in store.sorted_values(ResultFilter()).values())


_groupings = st.sampled_from([None, Grouping(), Grouping("run"), Grouping("ü")])
_bucket_widths = st.sampled_from([None, 60_000_000, 3_600_000_000, 86_400_000_000])
_percentile_sets = st.lists(st.floats(min_value=0.001, max_value=99.999), min_size=0, max_size=4, unique=True).map(
    tuple
)
_objectives = st.one_of(
    st.none(),
    st.builds(
        ServiceLevelObjective,
        st.one_of(st.none(), st.floats(0, 1e6)),
        st.one_of(st.none(), st.floats(0, 1e6)),
        st.one_of(st.none(), st.floats(0, 1e6)),
    ),
)
_selections = st.builds(
    ResultFilter,
    st.one_of(st.none(), windows()),
    st.sampled_from([None, "llama-3-8b"]),
    st.sampled_from([(), (("run", ""),), (("gpu", "a"), ("run", "a"))]),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    results=result_sets(max_size=30, described=True),
    query=st.builds(SummaryQuery, _selections, _percentile_sets, _objectives, _groupings, _bucket_widths),
)
def test_every_store_summarizes_as_the_domain_does(
    make_store: StoreFactory, results: list[BenchmarkResult], query: SummaryQuery
) -> None:
    store = make_store(results)
    reference = FakeResultStore(results)
    assert_same_summaries(store.summarize(query), reference.summarize(query))
    found, expected = store.sorted_values(query.selection), reference.sorted_values(query.selection)
    assert found.keys() == expected.keys()
    for metric, values in expected.items():
        assert found[metric] == pytest.approx(values, rel=1e-15)


def _as_stated(summary: ResultSummary, exact: list[float]) -> Any:
    """`exact` as the summary's percentiles must match it: to the last digits, or within the
    relative accuracy the summary states for sketched percentiles."""
    if summary.percentile_accuracy is not None:
        assert summary.percentile_accuracy == 0.01
    return pytest.approx(exact, rel=summary.percentile_accuracy or 1e-12)


def _percentiles(summary: ResultSummary, metric: str) -> list[float]:
    stats = summary.metrics[metric]
    assert stats is not None
    return [value for _, value in stats.percentiles]


def test_labels_with_awkward_keys_filter_and_group(make_store: StoreFactory) -> None:
    keys = ['a"b', "a.b", "a'b", "$x", "a[0]", "a\\b", "ü"]
    moment = parse_timestamp("2024-06-01T12:00:00Z")
    store = make_store(
        [BenchmarkResult(f"r{i}", 1, 1.0, 1.0, 1.0, moment, labels={key: f"v{i}"}) for i, key in enumerate(keys)]
    )
    for i, key in enumerate(keys):
        found = store.summarize(SummaryQuery(ResultFilter(labels=((key, f"v{i}"),))))
        assert {k: v.count for k, v in found.items()} == {(None, None): 1}, key
        grouped = store.summarize(SummaryQuery(group_by=Grouping(key)))
        assert {k: v.count for k, v in grouped.items()} == {(f"v{i}", None): 1, (None, None): len(keys) - 1}, key


@pytest.mark.parametrize("grouping", [Grouping(), Grouping("run")], ids=["model", "label"])
def test_more_groups_than_an_answer_holds_are_refused_by_the_store(
    make_store: StoreFactory, grouping: Grouping
) -> None:
    moment = parse_timestamp("2024-06-01T12:00:00Z")
    store = make_store(
        [BenchmarkResult(f"r{i}", 1, 1.0, 1.0, 1.0, moment, model=f"m{i}", labels={"run": f"{i}"}) for i in range(1001)]
    )
    with pytest.raises(InvalidStatisticsQuery) as refused:
        store.summarize(SummaryQuery(group_by=grouping))
    assert refused.value.parameter == "group_by"
    # 1,000 groups are answered: 999 values and the null group of the result without one.
    store = make_store(
        [BenchmarkResult(f"r{i}", 1, 1.0, 1.0, 1.0, moment, model=f"m{i}", labels={"run": f"{i}"}) for i in range(999)]
        + [BenchmarkResult("r-none", 1, 1.0, 1.0, 1.0, moment)]
    )
    assert len(store.summarize(SummaryQuery(group_by=grouping))) == 1000


_NUL = "a\x00b"


@pytest.mark.parametrize(
    "selection",
    [ResultFilter(model=_NUL), ResultFilter(labels=(("run", _NUL),)), ResultFilter(labels=((_NUL, "a"),))],
    ids=["model", "label value", "label key"],
)
def test_a_filter_holding_nul_matches_nothing(make_store: StoreFactory, selection: ResultFilter) -> None:
    # No stored text holds NUL, so these select nothing; PostgreSQL refuses the text as a parameter.
    moment = parse_timestamp("2024-06-01T12:00:00Z")
    store = make_store([BenchmarkResult("r", 1, 1.0, 1.0, 1.0, moment, model="a", labels={"run": "a"})])
    assert store.summarize(SummaryQuery(selection)) == {}
    assert store.summarize(SummaryQuery(selection, group_by=Grouping("run"), bucket_width=60_000_000)) == {}
    assert all(values == [] for values in store.sorted_values(selection).values())
    if not selection.labels:
        assert store.page(ResultQuery(model=selection.model)) == ResultPage([], None)


def test_grouping_by_a_label_key_holding_nul_puts_every_result_in_the_null_group(make_store: StoreFactory) -> None:
    moment = parse_timestamp("2024-06-01T12:00:00Z")
    store = make_store(
        [BenchmarkResult(f"r{i}", i, 1.0, 1.0, 1.0, moment, labels={"a": "v", "b": "w"}) for i in range(1, 4)]
    )
    grouped = store.summarize(SummaryQuery(group_by=Grouping(_NUL)))
    assert {key: summary.count for key, summary in grouped.items()} == {(None, None): 3}
    bucketed = store.summarize(SummaryQuery(group_by=Grouping(_NUL), bucket_width=3_600_000_000))
    # 2024-06-01T12:00Z is hour 477,012 since the epoch: 19,875 days · 24 + 12.
    assert {key: summary.count for key, summary in bucketed.items()} == {(None, 477_012): 3}


def test_getting_an_id_holding_nul_finds_nothing(seed_store: ResultStore) -> None:
    assert seed_store.get(_NUL) is None
    assert seed_store.get("1\x00") is None


# Failed requests and undefined metrics: the field's known faults (see the importers' field-bug
# log), each with its value computed by hand.


def _request(request_id: str, minute: int, **fields: Any) -> BenchmarkResult:
    values: dict[str, Any] = {
        "token_count": 10,
        "time_to_first_token": 100.0,
        "time_per_output_token": 20.0,
        "total_generation_time": 300.0,
    } | fields
    return BenchmarkResult(
        request_id=request_id,
        timestamp=parse_timestamp(f"2024-06-01T12:{minute:02d}:00Z"),
        model="m",
        labels={"run": "a"},
        **values,
    )


def _failure(request_id: str, minute: int, **fields: Any) -> BenchmarkResult:
    empty = dict.fromkeys(("token_count", "time_to_first_token", "time_per_output_token", "total_generation_time"))
    return _request(request_id, minute, **(empty | {"error": "500 Internal Server Error"} | fields))


def test_a_failed_request_never_reaches_a_latency_figure(make_store: StoreFactory) -> None:
    # llmperf #55: OK1 ttft 100 e2e 900, OK2 ttft 300 e2e 1100, FAIL with zeros: avg TTFT 200, not 133.3.
    store = make_store(
        [
            _request("ok1", 0, time_to_first_token=100.0, total_generation_time=900.0, token_count=50),
            _request("ok2", 1, time_to_first_token=300.0, total_generation_time=1100.0, token_count=50),
            _failure("fail", 2, token_count=0, time_to_first_token=0.0, total_generation_time=0.0),
        ]
    )
    averages = store.aggregate().summary()
    assert (averages.count, averages.failed) == (2, 1)
    assert (averages.average_time_to_first_token, averages.average_total_generation_time) == (200.0, 1000.0)
    for query in (SummaryQuery(), SummaryQuery(group_by=Grouping("run")), SummaryQuery(bucket_width=3_600_000_000)):
        (summary,) = store.summarize(query).values()
        assert (summary.count, summary.failed) == (2, 1)
        assert summary.error_rate == pytest.approx(1 / 3)
        ttft = summary.metrics["time_to_first_token"]
        assert ttft is not None
        assert (ttft.count, ttft.mean, ttft.minimum) == (2, 200.0, 100.0)
        throughput = summary.metrics["output_throughput"]
        assert throughput is not None
        assert throughput.count == 2
    assert store.sorted_values(ResultFilter())["time_to_first_token"] == [100.0, 300.0]


def test_undefined_metrics_count_only_where_defined(make_store: StoreFactory) -> None:
    # llm-load-test #93 and vLLM #3397: TPOT is undefined at one output token or none.
    store = make_store(
        [
            _request(
                "r1",
                0,
                time_to_first_token=120.0,
                total_generation_time=120.0,
                token_count=1,
                time_per_output_token=None,
            ),
            _request("r2", 1, time_to_first_token=100.0, total_generation_time=480.0, token_count=20),
            _request(
                "s1", 2, time_to_first_token=40.0, total_generation_time=50.0, token_count=0, time_per_output_token=None
            ),
            _request(
                "n1",
                3,
                time_to_first_token=None,
                time_per_output_token=None,  # undefined without a first token
                total_generation_time=280.0,
                token_count=10,
                prompt_token_count=7,
            ),
        ]
    )
    averages = store.aggregate().summary()
    assert averages.count == 4
    assert averages.average_time_per_output_token == 20.0  # r2 only
    assert averages.average_time_to_first_token == pytest.approx(260.0 / 3)  # n1 has none
    assert averages.average_token_count == 31 / 4
    (summary,) = store.summarize(SummaryQuery()).values()
    counts = {metric: stats.count for metric, stats in summary.metrics.items() if stats is not None}
    assert counts == {
        "token_count": 4,
        "time_to_first_token": 3,
        "time_per_output_token": 1,
        "total_generation_time": 4,
        "prompt_token_count": 1,
        "output_throughput": 4,
    }
    prompt = summary.metrics["prompt_token_count"]
    assert prompt is not None
    assert prompt.mean == 7.0


def test_percentiles_of_successes_come_with_the_failures_beside_them(make_store: StoreFactory) -> None:
    # AIPerf #688: nine successes with TTFT 100..900 and one failure: p95 860, failed 1, error rate 0.1.
    store = make_store(
        [_request(f"ok{i}", i, time_to_first_token=100.0 * i, total_generation_time=1000.0) for i in range(1, 10)]
        + [_failure("bad", 30)]
    )
    (summary,) = store.summarize(SummaryQuery(percentiles=(95.0,))).values()
    assert (summary.count, summary.failed, summary.error_rate) == (9, 1, 0.1)
    assert _percentiles(summary, "time_to_first_token") == _as_stated(summary, [860.0])


def test_goodput_counts_successes_meeting_the_objective_over_all_results(make_store: StoreFactory) -> None:
    store = make_store(
        [
            _request("fast", 0, time_to_first_token=50.0),
            _request("slow", 1, time_to_first_token=250.0),
            _request("unstreamed", 2, time_to_first_token=None),
            _failure("failed", 3, time_to_first_token=10.0, token_count=0, total_generation_time=10.0),
        ]
    )
    (summary,) = store.summarize(SummaryQuery(objective=ServiceLevelObjective(time_to_first_token=200))).values()
    assert (summary.goodput, summary.count, summary.failed) == (1, 3, 1)
    assert summary.goodput_share == 0.25


def test_a_bucket_or_group_holding_only_failures_is_still_reported(make_store: StoreFactory) -> None:
    store = make_store([_request("ok", 0), _failure("f1", 30), _failure("f2", 31)])
    minutes = store.summarize(SummaryQuery(bucket_width=60_000_000))
    assert {key[1]: (summary.count, summary.failed) for key, summary in minutes.items()} == {
        28_620_720: (1, 0),
        28_620_750: (0, 1),
        28_620_751: (0, 1),
    }
    empty = minutes[(None, 28_620_750)]
    assert all(stats is None for stats in empty.metrics.values())
    assert empty.error_rate == 1.0


def test_failed_results_and_undefined_metrics_read_back_as_they_were_stored(make_store: StoreFactory) -> None:
    sent = [
        _failure("f", 0, prompt_token_count=12),
        _request("u", 1, time_to_first_token=None, time_per_output_token=None),
    ]
    store = make_store(sent)
    for result in sent:
        found = store.get(result.request_id)
        assert found is not None
        assert found.same_content(result)
    page = store.page(ResultQuery(None, None, 10, None))
    assert [result.request_id for result in page.results] == ["f", "u"]
    assert all(found.same_content(result) for found, result in zip(page.results, sent, strict=True))


# Runs


def _run_of(run: str | None, request_id: str, minute: int, **fields: Any) -> BenchmarkResult:
    labels = {"tool": "vllm", "gpu": "h100", "status": request_id} | ({"run": run} if run else {})
    result = _request(request_id, minute, **fields)
    return BenchmarkResult(**{**_fields(result), "labels": labels})


def _fields(result: BenchmarkResult) -> dict[str, Any]:
    return {name: getattr(result, name) for name in result.__slots__}


def test_runs_are_listed_newest_first_with_their_counts_span_and_shared_labels(make_store: StoreFactory) -> None:
    store = make_store(
        [
            _run_of("old", "o1", 0),
            _run_of("old", "o2", 5),
            _run_of("old", "o3", 6, **_FAILED),
            _run_of("new", "n1", 10),
            _run_of(None, "loose", 30),
        ]
    )
    page = store.runs(RunQuery())
    assert [(run.run, run.count, run.failed) for run in page.runs] == [("new", 1, 0), ("old", 2, 1)]
    old = page.runs[1]
    assert (old.first, old.last) == (parse_timestamp("2024-06-01T12:00:00Z"), parse_timestamp("2024-06-01T12:06:00Z"))
    # Labels every result carries; the per-request `status` drops out.
    assert dict(old.labels) == {"gpu": "h100", "run": "old", "tool": "vllm"}
    assert (old.tool, old.model) == ("vllm", "m")
    assert page.next is None
    first = store.runs(RunQuery(limit=1))
    assert [run.run for run in first.runs] == ["new"]
    assert first.next is not None
    assert [run.run for run in store.runs(RunQuery(limit=1, after=first.next)).runs] == ["old"]
    assert store.runs(RunQuery(ResultFilter(labels=(("status", "n1"),)))).runs[0].run == "new"
    assert store.runs(RunQuery(ResultFilter(model="none"))).runs == []


_FAILED: dict[str, Any] = {
    "error": "timeout",
    "token_count": None,
    "time_to_first_token": None,
    "time_per_output_token": None,
    "total_generation_time": None,
}


def test_deleting_a_run_removes_its_results_and_everything_kept_about_them(make_store: StoreFactory) -> None:
    results = [_run_of("a", f"a{i}", i, time_to_first_token=100.0) for i in range(3)]
    results += [_run_of("b", f"b{i}", i, time_to_first_token=300.0) for i in range(2)] + [
        _run_of("b", "bf", 9, **_FAILED)
    ]
    store = make_store(results)
    if isinstance(store, JsonFileResultStore):
        with pytest.raises(StoreIsReadOnly):
            store.delete_run("a")
        return
    assert store.delete_run("b") == 3
    assert store.delete_run("b") == 0
    averages = store.aggregate().summary()
    assert (averages.count, averages.failed, averages.average_time_to_first_token) == (3, 0, 100.0)
    window = store.aggregate(TimeWindow.parse("2024-06-01T12:00:00Z", "2024-06-01T12:30:00Z")).summary()
    assert (window.count, window.failed) == (3, 0)
    for query in (SummaryQuery(), SummaryQuery(bucket_width=60_000_000), SummaryQuery(group_by=Grouping())):
        assert_same_summaries(store.summarize(query), FakeResultStore(results[:3]).summarize(query))
    assert store.get("b0") is None
    assert [run.run for run in store.runs(RunQuery()).runs] == ["a"]


def test_a_deleted_runs_large_values_leave_the_averages_of_what_remains_exact(make_store: StoreFactory) -> None:
    # Reported: a deletion took the run's sums out of the rollups, and a deleted 1e12 ms cancelled
    # against the 0.001 ms results left beside it in the same minute: their average came out 2% off.
    huge = {"time_to_first_token": 1e12, "total_generation_time": 1e12, "time_per_output_token": 1e9}
    tiny = {"time_to_first_token": 0.0005, "total_generation_time": 0.001, "time_per_output_token": 0.00005}
    results = [_run_of("big", "big", 10, **huge), *(_run_of("small", f"s{i}", 10 + i, **tiny) for i in range(3))]
    store = make_store(results)
    if isinstance(store, JsonFileResultStore):
        return  # read-only: nothing is deleted (the test above)
    assert store.delete_run("big") == 1
    for window in (None, TimeWindow.parse("2024-06-01T12:00:00Z", "2024-06-01T12:30:00Z")):
        averages = store.aggregate(window).summary()
        assert averages.count == 3
        assert averages.average_total_generation_time == pytest.approx(0.001, rel=1e-9)
        assert averages.average_time_to_first_token == pytest.approx(0.0005, rel=1e-9)
        assert averages.average_time_per_output_token == pytest.approx(0.00005, rel=1e-9)


def test_a_success_with_no_output_tokens_is_kept_with_tpot_undefined(make_store: StoreFactory) -> None:
    # vLLM PR #3397: S1 returned no token (TTFT 40, e2e 50), S2 ten (TTFT 100, e2e 280).
    store = make_store(
        [
            _request(
                "s1", 0, time_to_first_token=40.0, total_generation_time=50.0, token_count=0, time_per_output_token=None
            ),
            _request("s2", 1, time_to_first_token=100.0, total_generation_time=280.0, token_count=10),
        ]
    )
    averages = store.aggregate().summary()
    assert (averages.count, averages.average_token_count) == (2, 5.0)
    assert (averages.average_time_per_output_token, averages.average_total_generation_time) == (20.0, 165.0)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    results=result_sets(max_size=30, described=True),
    selection=_selections,
    metric=st.sampled_from(STATISTIC_METRICS),
    bins=st.integers(min_value=1, max_value=12),
    scale=st.sampled_from(Scale),
)
def test_every_store_bins_as_the_domain_does(
    make_store: StoreFactory,
    *,
    results: list[BenchmarkResult],
    selection: ResultFilter,
    metric: str,
    bins: int,
    scale: Scale,
) -> None:
    store = make_store(results)
    report = DescribeDistribution(store)(selection, metric, bins=bins, scale=scale)
    chosen = [result for result in results if selection.matches(result)]
    values = [value for result in chosen if result.succeeded if (value := metric_values(result)[metric]) is not None]
    # The one metric the store reads for it, bit for bit.
    assert store.metric_values(selection, metric) == (sorted(values), report.failed)
    assert report.histogram == histogram(values, bins, scale)
    assert report.failed == sum(1 for result in chosen if not result.succeeded)
    # Exact: the counts sum to the values, and each value lies in the bin its edges give it.
    assert sum(report.histogram.counts) == len(values)
    if values:
        edges = report.histogram.edges
        assert edges is not None
        recount = Counter(bin_of(value, edges) for value in values)
        assert report.histogram.counts == tuple(recount.get(index, 0) for index in range(len(edges) - 1))


def test_seed_histogram_computed_by_hand(seed_store: ResultStore) -> None:
    describe = DescribeDistribution(seed_store)
    ttft = describe(ResultFilter(), "time_to_first_token", bins=3, scale=Scale.LINEAR).histogram
    assert (ttft.edges, ttft.counts, ttft.minimum, ttft.maximum) == ((150.0, 200.0, 250.0, 300.0), (2, 1, 2), 150, 300)
    june_2nd = ResultFilter(TimeWindow.parse("2024-06-02", "2024-06-02"))
    tokens = describe(june_2nd, "token_count", bins=2, scale=Scale.LOG).histogram
    assert tokens.count == 2
    assert sum(tokens.counts) == 2
    nothing = describe(ResultFilter(model="absent"), "token_count", bins=2, scale=Scale.LINEAR)
    assert (nothing.histogram.count, nothing.histogram.edges, nothing.histogram.counts, nothing.failed) == (
        0,
        None,
        (),
        0,
    )


def test_a_histogram_leaves_failures_and_undefined_values_out(make_store: StoreFactory) -> None:
    store = make_store(
        [
            _request("ok1", 0, time_to_first_token=100.0, total_generation_time=900.0, token_count=50),
            _request("ok2", 1, time_to_first_token=None, total_generation_time=1100.0, token_count=0),
            _failure("fail", 2, token_count=0, time_to_first_token=0.0, total_generation_time=0.0),
        ]
    )
    describe = DescribeDistribution(store)
    ttft = describe(ResultFilter(), "time_to_first_token", bins=4, scale=Scale.LINEAR)
    assert (ttft.histogram.count, ttft.failed, ttft.histogram.edges, ttft.histogram.counts) == (
        1,
        1,
        (100.0, 100.0),
        (1,),
    )
    # A 0-token success counts in the log scale's first bin.
    tokens = describe(ResultFilter(), "token_count", bins=4, scale=Scale.LOG).histogram
    assert (tokens.minimum, tokens.maximum, tokens.edges, tokens.counts) == (0.0, 50.0, (50.0, 50.0), (2,))


def test_pages_select_by_label_as_statistics_do(make_store: StoreFactory) -> None:
    store = make_store([_run_of("a", "a1", 0), _run_of("b", "b1", 1), _run_of("a", "a2", 2), _run_of(None, "x", 3)])
    page = store.page(ResultQuery(labels=(("run", "a"),)))
    assert [result.request_id for result in page.results] == ["a1", "a2"]
    assert store.page(ResultQuery(labels=(("run", "a"),), limit=1)).next is not None
    assert store.page(ResultQuery(labels=(("run", "none"),))).results == []
