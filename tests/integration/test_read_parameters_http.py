"""Read parameters every store must answer alike, over real HTTP: the DEBUG store, SQLite and
PostgreSQL serve the same results, and get the same questions: texts holding NUL, the ends of the
calendar, and groupings past the 1,000 groups an answer holds."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import SQL_KINDS, scratch_database
from tests.integration.test_ingestion_http import WRITER, sql_api
from tests.support import record, seed_records, serving, write_result_file

STORES = ("json_file", *SQL_KINDS)


@contextmanager
def _every_store(records: list[dict[str, Any]], directory: Path) -> Iterator[dict[str, httpx.Client]]:
    """A client per store, each store holding `records`: the DEBUG store reads them from a file,
    SQLite and PostgreSQL are sent them over HTTP."""
    with ExitStack() as stack:
        data_file = write_result_file(directory / "results.json", records)
        base_url = stack.enter_context(serving(create_app(Settings(debug=True, data_file=data_file))))
        clients = {"json_file": stack.enter_context(httpx.Client(base_url=base_url, timeout=60))}
        for kind in SQL_KINDS:
            url = stack.enter_context(scratch_database(kind, directory))
            clients[kind] = stack.enter_context(contextmanager(sql_api)(url))
            assert clients[kind].post("/results", json=records, headers=WRITER).status_code == 201
        yield clients


@pytest.fixture(scope="module")
def apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, httpx.Client]]:
    """Every store holding the seed's five results."""
    with _every_store(seed_records(), tmp_path_factory.mktemp("seed")) as clients:
        yield clients


def _cursor(timestamp: str, request_id: str) -> str:
    """A cursor as the service spells one (base64url of a JSON pair, unpadded)."""
    return base64.urlsafe_b64encode(json.dumps([timestamp, request_id]).encode()).decode().rstrip("=")


_WINDOW = "start=2024-06-01&end=2024-06-02"
# (path and query as sent, the status every store answers)
_SAME_EVERYWHERE = [
    ("/results/a%00b", 404),
    ("/results/1%00", 404),
    ("/results?model=a%00b", 200),
    ("/results/stats?model=a%00b", 200),
    (f"/results/timeseries?{_WINDOW}&model=a%00b", 200),
    ("/results/compare?model=a%00b", 422),
    ("/results/compare?baseline_model=a%00b", 422),
    ("/results/compare?candidate_label=run:a%00b", 422),
    ("/results/stats?label=k:a%00b", 200),
    ("/results/stats?label=a%00b:v", 200),
    (f"/results/timeseries?{_WINDOW}&label=a%00b:v", 200),
    ("/results/stats?group_by=label:a%00b", 200),
    (f"/results/timeseries?{_WINDOW}&group_by=label:a%00b&bucket=1d", 200),
    (f"/results?cursor={_cursor('2024-06-01T12:00:00Z', 'a' + chr(0) + 'b')}", 422),
    (f"/results?cursor={_cursor('2024-06-01T12:00:00Z', chr(0))}", 422),
    # Invalid UTF-8 percent-encoded in a path or query is decoded with U+FFFD in its place (a lone
    # surrogate never reaches a str); a cursor's JSON cannot carry one either.
    ("/results/%ED%A0%80", 404),
    ("/results/stats?model=%ED%A0%80", 200),
    ("/results/stats?label=k:%FF", 200),
    ("/results/stats?group_by=label:%ED%A0%80", 200),
    # The ends of the calendar, in every question that takes a window.
    ("/results/average/0001-01-01/9999-12-31", 200),
    ("/results?start=0001-01-01T00:00:00Z&end=9999-12-31T23:59:59.999999Z", 200),
    ("/results/stats?start=0001-01-01&end=9999-12-31&group_by=model", 200),
    ("/results/compare?baseline_start=0001-01-01&baseline_end=2024-06-01&candidate_end=9999-12-31", 200),
    ("/results/timeseries?start=9999-12-31T23:59:59.999999Z&end=9999-12-31T23:59:59.999999Z&bucket=99999d", 200),
    ("/results?cursor=" + base64.urlsafe_b64encode(b'["2024-06-01T12:00:00Z","a\\ud800"]').decode().rstrip("="), 422),
    # A parameter that takes one value, given twice, is refused; one declared repeatable is not.
    ("/results?model=a&model=b", 422),
    ("/results/stats?percentiles=50&percentiles=90", 422),
    ("/results/timeseries?start=2024-06-01&end=2024-06-02&end=2024-06-03", 422),
    ("/results/stats?label=gpu:a&label=run:b", 200),
    ("/results/average/2024-06-01/2024-06-02?unknown=1&unknown=2", 200),
]


def test_a_repeated_single_parameter_is_named(apis: dict[str, httpx.Client]) -> None:
    problem = apis["json_file"].get("/results?limit=1&model=a&limit=2").json()
    assert problem["type"] == "urn:superbenchmark:problem:invalid-parameter"
    assert problem["parameter"] == "limit"
    assert "more than once" in problem["detail"]


@pytest.mark.parametrize(("target", "status"), _SAME_EVERYWHERE)
def test_texts_no_result_holds_get_the_same_answer_from_every_store(
    apis: dict[str, httpx.Client], target: str, status: int
) -> None:
    # One request id for all: a problem names its request's id, which would differ otherwise.
    answers = {store: apis[store].get(target, headers={"X-Request-ID": "same"}) for store in STORES}
    assert {store: response.status_code for store, response in answers.items()} == dict.fromkeys(STORES, status)
    bodies = {store: _figures_to_12_digits(response) for store, response in answers.items()}
    assert bodies["sqlite"] == bodies["json_file"]
    assert bodies["postgresql"] == bodies["json_file"]


def _figures_to_12_digits(response: httpx.Response) -> object:
    """The body, its numbers cut to 12 significant digits: PostgreSQL's sums and percentile_cont
    round the last bits of a statistic differently from numpy, and nothing else may differ."""
    return json.loads(response.content, parse_float=lambda text: float(f"{float(text):.12g}"))


def test_what_the_texts_holding_nul_answer(apis: dict[str, httpx.Client]) -> None:
    client = apis["postgresql"]
    assert client.get("/results/a%00b").json()["type"] == "urn:superbenchmark:problem:result-not-found"
    assert client.get("/results?model=a%00b").json() == {"results": [], "next_cursor": None}
    (only,) = client.get("/results/stats?label=a%00b:v").json()["groups"]
    assert (only["group"], only["count"]) == (None, 0)
    # Every seed result lacks such a label, so all five share the null group.
    (nulls,) = client.get("/results/stats?group_by=label:a%00b").json()["groups"]
    assert (nulls["group"], nulls["count"]) == (None, 5)
    (series,) = client.get(f"/results/timeseries?{_WINDOW}&group_by=label:a%00b&bucket=1d").json()["series"]
    assert [bucket["count"] for bucket in series["buckets"]] == [3, 2]
    cursor = client.get(f"/results?cursor={_cursor('2024-06-01T12:00:00Z', 'a' + chr(0) + 'b')}").json()
    assert cursor["type"] == "urn:superbenchmark:problem:invalid-cursor"
    assert client.get("/results/compare?model=a%00b").json()["type"] == "urn:superbenchmark:problem:empty-sample"


def test_the_texts_still_find_what_they_name(apis: dict[str, httpx.Client]) -> None:
    # The same forms without NUL: what the stores find is unchanged.
    for client in apis.values():
        assert client.get("/results/1").json()["request_id"] == "1"
        assert (
            len(client.get("/results", params={"cursor": _cursor("2024-06-01T12:00:00Z", "1")}).json()["results"]) == 4
        )


_FIRST_INSTANT, _LAST_INSTANT = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"


@pytest.mark.parametrize("store", STORES)
def test_a_time_series_over_the_whole_calendar(apis: dict[str, httpx.Client], store: str) -> None:
    response = apis[store].get("/results/timeseries?start=0001-01-01&end=9999-12-31")
    assert response.status_code == 200, response.text
    body = response.json()
    # 3,652,059 days, auto: ceil(3,652,059 / 200) = 18,261-day buckets, from bucket
    # floor(-719,162 / 18,261) = -40 (0001-01-01 is day -719,162 of the epoch) to
    # floor(2,932,896 / 18,261) = 160 (9999-12-31 is day 2,932,896): 201 buckets.
    assert (body["bucket"], body["bucket_seconds"]) == ("18261d", 18_261 * 86_400)
    (series,) = body["series"]
    buckets = series["buckets"]
    assert len(buckets) == 201
    # Bucket -40 would start on day -730,440, before the calendar: it starts at its first instant.
    assert (buckets[0]["start"], buckets[0]["end"]) == (_FIRST_INSTANT, "0020-02-14T00:00:00Z")
    # Bucket 160 would end on day 2,940,021, after the calendar: it ends at, and includes, its last instant.
    assert (buckets[-1]["start"], buckets[-1]["end"]) == ("9969-07-05T00:00:00Z", _LAST_INSTANT)
    # The seed's five results (June 1st and 2nd, 2024: day 19,875) sit in bucket 1, days 18,261 to 36,522.
    assert [(b["start"], b["end"], b["count"]) for b in buckets if b["count"]] == [
        ("2019-12-31T00:00:00Z", "2069-12-29T00:00:00Z", 5)
    ]


@pytest.mark.parametrize(
    ("bucket", "first", "last"),
    [
        # 7-day buckets start on multiples of 7 days: day -719,162 lies in the one from day -719,166.
        ("7d", (_FIRST_INSTANT, "0001-01-04T00:00:00Z"), ("9999-12-30T00:00:00Z", _LAST_INSTANT)),
        ("1d", (_FIRST_INSTANT, "0001-01-02T00:00:00Z"), ("9999-12-31T00:00:00Z", _LAST_INSTANT)),
    ],
)
def test_buckets_at_both_ends_of_the_calendar(
    apis: dict[str, httpx.Client], bucket: str, first: tuple[str, str], last: tuple[str, str]
) -> None:
    for store in STORES:
        for start, end, expected in [("0001-01-01", "0001-01-10", first), ("9999-12-25", "9999-12-31", last)]:
            params = {"start": start, "end": end, "bucket": bucket}
            response = apis[store].get("/results/timeseries", params=params)
            assert response.status_code == 200, (store, response.text)
            buckets = response.json()["series"][0]["buckets"]
            edge = buckets[0] if start.startswith("0001") else buckets[-1]
            assert (edge["start"], edge["end"]) == expected, store


_UTC_MIN, _UTC_MAX = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
_instants = st.one_of(
    st.sampled_from([_UTC_MIN, _UTC_MAX]),
    st.datetimes(max_value=datetime(1, 3, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(9999, 10, 1), timezones=st.just(UTC)),
    st.datetimes(timezones=st.just(UTC)),
)
_WIDTHS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3_600, "1d": 86_400}
_buckets = st.one_of(
    st.sampled_from([*_WIDTHS, "auto", "7d", "99999d"]), st.integers(1, 99_999).map(lambda days: f"{days}d")
)


@st.composite
def _calendar_windows(draw: st.DrawFn) -> tuple[datetime, datetime]:
    """Windows anywhere in the calendar, often at one of its ends, from an instant to a year long or longer."""
    start = draw(_instants)
    room = (_UTC_MAX - start) // timedelta(microseconds=1)
    span = draw(st.one_of(st.integers(0, min(room, 400 * 86_400 * 10**6)), st.integers(0, room)))
    end = draw(st.one_of(_instants, st.just(start + timedelta(microseconds=span))))
    return min(start, end), max(start, end)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


_SEED_TIMES = [datetime.fromisoformat(item["timestamp"]).replace(tzinfo=UTC) for item in seed_records()]


@pytest.mark.parametrize("store", STORES)
@settings(max_examples=60, deadline=None)
@given(window=_calendar_windows(), bucket=_buckets)
def test_time_series_buckets_tile_any_window_of_the_calendar(
    apis: dict[str, httpx.Client], store: str, window: tuple[datetime, datetime], bucket: str
) -> None:
    start, end = window
    params = {"start": _iso(start), "end": _iso(end), "bucket": bucket, "metric": "token_count", "percentiles": "50"}
    response = apis[store].get("/results/timeseries", params=params)
    seconds = _WIDTHS.get(bucket) or (int(bucket[:-1]) * 86_400 if bucket != "auto" else None)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    if response.status_code == 422:
        # The documented refusal: an explicit width cutting the window into more than 10,000 buckets.
        assert response.json()["parameter"] == "bucket", response.text
        assert seconds is not None
        first, last = ((moment - epoch) // timedelta(seconds=seconds) for moment in (start, end))
        assert last - first + 1 > 10_000
        return
    assert response.status_code == 200, response.text
    body = response.json()
    (series,) = body["series"]
    bounds = [(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])) for b in series["buckets"]]
    # The buckets tile the window: each ends where the next starts, the first holds its start, and
    # the last holds its end (past it, or at the calendar's last instant, which it then includes).
    assert all(earlier[1] == later[0] for earlier, later in pairwise(bounds))
    assert all(first < past for first, past in bounds)
    assert bounds[0][0] <= start < bounds[0][1] or bounds[0][1] == _UTC_MAX
    assert bounds[-1][0] <= end < bounds[-1][1] or bounds[-1][1] == _UTC_MAX
    assert bounds[0][0] >= _UTC_MIN
    width = timedelta(seconds=body["bucket_seconds"])
    if seconds is not None:
        assert body["bucket"] == bucket
        assert width == timedelta(seconds=seconds)
    # Every bucket is aligned to its width from the epoch, but where the calendar cuts it short.
    assert all((first - epoch) % width == timedelta(0) for first, _ in bounds[1:])
    assert all(past - first == width for first, past in bounds[1:-1])
    assert sum(b["count"] for b in series["buckets"]) == sum(start <= moment <= end for moment in _SEED_TIMES)


@pytest.fixture(scope="module")
def crowded_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, httpx.Client]]:
    """Every store holding 1,001 results, each with its own value of the label run and its own model."""
    records = [
        record(f"r{i:04d}", f"2024-06-01T12:{i // 60 % 60:02d}:{i % 60:02d}Z")
        | {"model": f"m{i}", "labels": {"run": f"{i}"}}
        for i in range(1001)
    ]
    with _every_store(records, tmp_path_factory.mktemp("crowded")) as clients:
        yield clients


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize(
    "target",
    [
        "/results/stats?group_by=label:run",
        "/results/stats?group_by=model",
        "/results/timeseries?start=2024-06-01&end=2024-06-01&bucket=1d&group_by=label:run",
    ],
)
def test_more_groups_than_an_answer_holds_are_refused(
    crowded_apis: dict[str, httpx.Client], store: str, target: str
) -> None:
    response = crowded_apis[store].get(target)
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["type"], body["parameter"]) == ("urn:superbenchmark:problem:invalid-parameter", "group_by")
    assert "more than 1000" in body["detail"]
    # One group fewer is answered: the refusal is about the groups, not the results.
    answered = crowded_apis[store].get("/results/stats?group_by=label:run&end=2024-06-01T12:16:39Z")
    assert answered.status_code == 200
    assert len(answered.json()["groups"]) == 1000
