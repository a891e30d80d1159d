"""Statistics over real HTTP: the DEBUG app on the seed file, and SQLite and PostgreSQL apps."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import SQL_KINDS, scratch_database
from tests.integration.test_ingestion_http import WRITER, sql_api
from tests.support import SEED_FILE, assert_problem, record, serving

CSV = {"Accept": "text/csv"}


@pytest.fixture(scope="module")
def seed_api() -> Iterator[httpx.Client]:
    app = create_app(Settings(debug=True, data_file=SEED_FILE))
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


@pytest.fixture(scope="module", params=SQL_KINDS)
def runs_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """Two runs of 60 results a minute apart on two models; run b is 20% slower to the first token."""
    with scratch_database(request.param, tmp_path_factory.mktemp("runs")) as url:
        for client in sql_api(url):
            first = datetime(2024, 6, 1, tzinfo=UTC)
            records = [
                record(
                    f"{run}{i:03d}",
                    (first + timedelta(minutes=i, seconds=30 if run == "b" else 0)).isoformat(),
                    token_count=100,
                    time_to_first_token=(120.0 if run == "b" else 100.0) + i % 10,
                    total_generation_time=1000.0 + i,
                )
                | {"model": "llama" if i % 3 else "mistral", "labels": {"run": run}}
                for run in ("a", "b")
                for i in range(60)
            ]
            assert client.post("/results", json=records, headers=WRITER).status_code == 201
            yield client


def test_seed_stats_by_hand(seed_api: httpx.Client) -> None:
    response = seed_api.get("/results/stats", params={"slo_ttft_ms": 200})
    assert response.status_code == 200
    body = response.json()
    assert body["units"] == {
        "token_count": "tokens",
        "time_to_first_token": "ms",
        "time_per_output_token": "ms",
        "total_generation_time": "ms",
        "prompt_token_count": "tokens",
        "output_throughput": "tokens/s",
    }
    (group,) = body["groups"]
    assert (group["group"], group["count"], group["goodput"]) == (None, 5, {"count": 3, "share": 0.6})
    assert (group["failed"], group["error_rate"]) == (0, 0.0)
    assert group["metrics"]["prompt_token_count"] is None  # the seed counts no input tokens
    ttft = group["metrics"]["time_to_first_token"]
    # 150, 180, 200, 250, 300 ms: p90 lies 0.6 of the way from 250 to 300.
    assert ttft == pytest.approx(
        {
            "count": 5,
            "mean": 216.0,
            "min": 150.0,
            "max": 300.0,
            "stddev": 53.1413210223,
            "p50": 200.0,
            "p90": 280.0,
            "p95": 290.0,
            "p99": 298.0,
        },
        rel=1e-9,
    )


def test_seed_stats_as_csv_open_in_a_spreadsheet(seed_api: httpx.Client) -> None:
    response = seed_api.get("/results/stats", params={"percentiles": "50"}, headers=CSV)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["metric"] for row in rows] == [
        "token_count",
        "time_to_first_token",
        "time_per_output_token",
        "total_generation_time",
        "prompt_token_count",
        "output_throughput",
    ]
    assert (rows[1]["result_count"], rows[1]["mean"], rows[1]["p50"], rows[1]["unit"]) == ("5", "216.0", "200.0", "ms")
    assert (rows[1]["failed_count"], rows[1]["error_rate"]) == ("0", "0.0")
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in response.content


def test_json_stays_the_default_and_wins_a_tie(seed_api: httpx.Client) -> None:
    for accept in [
        "*/*",
        "application/json, text/csv",
        "text/csv;q=0.5, application/json",
        "text/html",
        "text/csv;q=0",
        "text/csv; q=abc",
    ]:
        response = seed_api.get("/results/stats", headers={"Accept": accept})
        assert response.headers["content-type"] == "application/json", accept
    assert (
        seed_api.get("/results/stats", headers={"Accept": "text/csv, */*;q=0.1"})
        .headers["content-type"]
        .startswith("text/csv")
    )


def test_seed_timeseries_has_every_hour_even_empty_ones(seed_api: httpx.Client) -> None:
    body = seed_api.get(
        "/results/timeseries", params={"start": "2024-06-01", "end": "2024-06-02", "bucket": "1h"}
    ).json()
    (series,) = body["series"]
    buckets = series["buckets"]
    assert (body["bucket"], body["bucket_seconds"], len(buckets)) == ("1h", 3600, 48)
    assert [b["count"] for b in buckets].count(0) == 43
    assert sum(b["count"] for b in buckets) == 5
    noon = buckets[12]
    assert (noon["start"], noon["end"], noon["count"]) == ("2024-06-01T12:00:00Z", "2024-06-01T13:00:00Z", 1)
    assert noon["metrics"]["time_to_first_token"]["p50"] == 150.0
    assert buckets[0]["metrics"]["time_to_first_token"] is None


def test_seed_timeseries_as_csv_with_chosen_metrics(seed_api: httpx.Client) -> None:
    params = {"start": "2024-06-01", "end": "2024-06-02", "bucket": "1d", "metric": "time_to_first_token,token_count"}
    response = seed_api.get("/results/timeseries", params=params, headers=CSV)
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(row["bucket_start"], row["metric"], row["result_count"]) for row in rows] == [
        ("2024-06-01T00:00:00Z", "time_to_first_token", "3"),
        ("2024-06-01T00:00:00Z", "token_count", "3"),
        ("2024-06-02T00:00:00Z", "time_to_first_token", "2"),
        ("2024-06-02T00:00:00Z", "token_count", "2"),
    ]


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/results/stats", {"percentiles": "0,50"}, "percentiles"),
        ("/results/stats", {"percentiles": "100"}, "percentiles"),
        ("/results/stats", {"group_by": "gpu"}, "group_by"),
        ("/results/stats", {"label": "run"}, "label"),
        ("/results/stats", {"start": "yesterday"}, "start"),
        ("/results/stats", {"end": "2024-06-31"}, "end"),
        ("/results/timeseries", {"start": "2024-06-01", "end": "soon"}, "end"),
        ("/results/compare", {"candidate_start": "2024-06-01T25:00:00"}, "candidate_start"),
        ("/results/histogram", {"metric": "time_to_first_token", "start": "20240601T120000Z"}, "start"),
        ("/results/histogram", {"metric": "latency"}, "metric"),
        ("/results/histogram", {"metric": "token_count", "scale": "log2"}, "scale"),
        ("/results/histogram", {"metric": "token_count", "label": "run"}, "label"),
        ("/results/timeseries", {"start": "2024-06-01", "end": "2024-06-02", "bucket": "2m"}, "bucket"),
        ("/results/timeseries", {"start": "2024-06-01", "end": "2024-06-02", "metric": "latency"}, "metric"),
        ("/results/timeseries", {"start": "2020-01-01", "end": "2024-06-02", "bucket": "1m"}, "bucket"),
        ("/results/compare", {"candidate_label": "run"}, "candidate_label"),
    ],
)
def test_bad_parameters_are_named(seed_api: httpx.Client, path: str, params: dict[str, str], parameter: str) -> None:
    body = assert_problem(seed_api.get(path, params=params), 422, "parameter")
    assert body["parameter"] == parameter
    assert body["type"] == "urn:superbenchmark:problem:invalid-parameter"


@pytest.mark.parametrize(
    ("path", "params", "names"),
    [
        ("/results/stats", {"start": "2024-06-02", "end": "2024-06-01"}, ("start", "end")),
        ("/results/timeseries", {"start": "2024-06-02", "end": "2024-06-01"}, ("start", "end")),
        (
            "/results/compare",
            {"baseline_start": "2024-06-02", "baseline_end": "2024-06-01"},
            ("baseline_start", "baseline_end"),
        ),
        ("/results/histogram", {"metric": "token_count", "start": "2024-06-02", "end": "2024-06-01"}, ("start", "end")),
        ("/results", {"start": "2024-06-02", "end": "2024-06-01"}, ("start", "end")),
        ("/results/average/2024-06-02/2024-06-01", {}, ("start_time", "end_time")),
    ],
)
def test_a_reversed_window_names_its_bounds_everywhere(
    seed_api: httpx.Client, path: str, params: dict[str, str], names: tuple[str, str]
) -> None:
    body = assert_problem(seed_api.get(path, params=params), 422, "parameter")
    assert body["type"] == "urn:superbenchmark:problem:invalid-time-window"
    assert body["parameter"] == names[1]
    assert (
        f"{names[0]} 2024-06-02T00:00:00+00:00 is after {names[1]} 2024-06-01T23:59:59.999999+00:00" in body["detail"]
    )


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/results/average/yesterday/2024-06-01", {}, "start_time"),
        ("/results/average/2024-06-01/2024-13-01", {}, "end_time"),
        ("/results", {"start": "yesterday"}, "start"),
        ("/results", {"end": "yesterday"}, "end"),
        ("/results/stats", {"start": "yesterday"}, "start"),
        ("/results/timeseries", {"start": "yesterday", "end": "2024-06-01"}, "start"),
        ("/results/compare", {"baseline_end": "yesterday"}, "baseline_end"),
        ("/results/histogram", {"metric": "token_count", "end": "yesterday"}, "end"),
    ],
)
def test_the_same_bad_bound_is_the_same_problem_everywhere(
    seed_api: httpx.Client, path: str, params: dict[str, str], parameter: str
) -> None:
    body = assert_problem(seed_api.get(path, params=params), 422, "parameter")
    assert body["type"] == "urn:superbenchmark:problem:invalid-parameter"
    assert body["parameter"] == parameter
    bad = "2024-13-01" if parameter == "end_time" else "yesterday"
    reason = "expected a form like" if bad == "yesterday" else ""
    assert body["detail"].startswith(f"{parameter}: {bad!r} is not a valid ISO 8601 date-time: {reason}")


def test_a_missing_timeseries_bound_is_named(seed_api: httpx.Client) -> None:
    body = assert_problem(seed_api.get("/results/timeseries", params={"start": "2024-06-01"}), 422, "parameter")
    assert body["parameter"] == "end"
    assert body["type"] == "urn:superbenchmark:problem:invalid-request"
    negative = assert_problem(seed_api.get("/results/stats", params={"slo_ttft_ms": -1}), 422, "parameter")
    assert negative["parameter"] == "slo_ttft_ms"


def test_a_comparison_over_the_limit_is_a_clear_problem_while_statistics_answer(tmp_path: Any) -> None:
    app = create_app(Settings(debug=True, data_file=SEED_FILE, max_statistics_results=4))
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        body = assert_problem(client.get("/results/compare"), 422, "count", "limit")
        assert (body["count"], body["limit"]) == (10, 1)  # both sides are all time: 5 + 5 against 4 // 4
        assert "SUPERBENCHMARK_MAX_STATISTICS_RESULTS" in body["detail"]
        stats = client.get("/results/stats").json()["groups"][0]
        assert (stats["count"], stats["percentiles"], stats["percentile_relative_accuracy"]) == (5, "exact", None)
        series = client.get("/results/timeseries", params={"start": "2024-01-01", "end": "2025-01-01"})
        assert series.status_code == 200


def test_an_empty_comparison_side_is_a_problem(seed_api: httpx.Client) -> None:
    body = assert_problem(seed_api.get("/results/compare", params={"candidate_start": "2030-01-01"}), 422)
    assert "candidate" in body["detail"]


def test_groups_by_model_and_label_partition_the_runs(runs_api: httpx.Client) -> None:
    by_model = runs_api.get("/results/stats", params={"group_by": "model"}).json()["groups"]
    assert [(g["group"], g["count"]) for g in by_model] == [("llama", 80), ("mistral", 40)]
    by_run = runs_api.get("/results/stats", params={"group_by": "label:run", "model": "mistral"}).json()["groups"]
    assert [(g["group"], g["count"]) for g in by_run] == [("a", 20), ("b", 20)]
    only_b = runs_api.get("/results/stats", params={"label": "run:b", "slo_ttft_ms": 125}).json()["groups"][0]
    assert (only_b["count"], only_b["goodput"]["count"]) == (60, 36)  # 120 + i % 10 <= 125 for six i in ten
    throughput = only_b["metrics"]["output_throughput"]
    assert throughput["max"] == pytest.approx(100 / 1.0)


def test_compare_the_runs_by_label(runs_api: httpx.Client) -> None:
    response = runs_api.get("/results/compare", params={"baseline_label": "run:a", "candidate_label": "run:b"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["baseline"]["count"], body["candidate"]["count"]) == (60, 60)
    ttft = body["metrics"]["time_to_first_token"]
    assert ttft["verdict"] == "regression"
    assert ttft["baseline"]["mean"] == pytest.approx(104.5)
    assert ttft["relative_change"] == pytest.approx(20 / 104.5)
    assert ttft["p_value"] < 1e-6
    assert body["metrics"]["total_generation_time"]["verdict"] == "no significant change"
    reverse = runs_api.get("/results/compare", params={"baseline_label": "run:b", "candidate_label": "run:a"}).json()
    assert reverse["metrics"]["time_to_first_token"]["verdict"] == "improvement"


def test_compare_a_window_with_itself(runs_api: httpx.Client) -> None:
    window = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T00:30:00Z"}
    params = {f"{side}_{bound}": value for side in ("baseline", "candidate") for bound, value in window.items()}
    metrics = runs_api.get("/results/compare", params=params).json()["metrics"]
    assert {entry["verdict"] for entry in metrics.values()} == {"no significant change"}


def test_timeseries_per_run_cover_the_hour(runs_api: httpx.Client) -> None:
    params = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T00:59:59Z", "group_by": "label:run", "bucket": "15m"}
    series = runs_api.get("/results/timeseries", params=params).json()["series"]
    assert [(s["group"], [b["count"] for b in s["buckets"]]) for s in series] == [
        ("a", [15, 15, 15, 15]),
        ("b", [15, 15, 15, 15]),
    ]


def test_result_listing_as_csv_with_a_link_to_the_next_page(runs_api: httpx.Client) -> None:
    response = runs_api.get("/results", params={"limit": 2, "model": "mistral"}, headers=CSV)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["request_id"] for row in rows] == ["a000", "b000"]
    assert rows[0]["labels"] == '{"run":"a"}'
    next_page = response.headers["link"].split(";")[0].strip("<>")
    following = runs_api.get(next_page, headers=CSV)
    assert [row["request_id"] for row in csv.DictReader(io.StringIO(following.content.decode("utf-8-sig")))] == [
        "a003",
        "b003",
    ]


def test_text_cells_that_a_spreadsheet_would_run_are_quoted(runs_api: httpx.Client) -> None:
    risky = record("=cmd", "2031-01-01T00:00:00Z") | {"model": "+sum(A1)", "prompt_text": "-1"}
    assert runs_api.post("/results", json=risky, headers=WRITER).status_code == 201
    response = runs_api.get("/results", params={"start": "2031-01-01"}, headers=CSV)
    (row,) = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    assert (row["request_id"], row["model"], row["prompt_text"]) == ("'=cmd", "'+sum(A1)", "'-1")


def test_seed_histogram_by_hand(seed_api: httpx.Client) -> None:
    response = seed_api.get("/results/histogram", params={"metric": "time_to_first_token", "bins": 3})
    assert response.status_code == 200
    assert response.headers["vary"] == "Accept"
    assert response.json() == {
        "selection": {"start": None, "end": None, "model": None, "labels": {}},
        "metric": "time_to_first_token",
        "unit": "ms",
        "scale": "linear",
        "count": 5,
        "failed": 0,
        "min": 150.0,
        "max": 300.0,
        "edges": [150.0, 200.0, 250.0, 300.0],
        "counts": [2, 1, 2],
    }
    default = seed_api.get("/results/histogram", params={"metric": "token_count"}).json()
    assert (len(default["edges"]), sum(default["counts"]), default["scale"]) == (51, 5, "linear")


def test_seed_histogram_on_a_log_scale_and_a_window(seed_api: httpx.Client) -> None:
    # June 2nd holds two results; two log bins split [min, max] at their geometric mean.
    params = {"metric": "total_generation_time", "bins": "2", "scale": "log", "start": "2024-06-02"}
    body = seed_api.get("/results/histogram", params=params).json()
    assert body["selection"]["start"] == "2024-06-02T00:00:00Z"
    assert body["scale"] == "log"
    low, high = body["min"], body["max"]
    assert body["edges"] == pytest.approx([low, (low * high) ** 0.5, high])
    assert (body["edges"][0], body["edges"][-1]) == (low, high)
    assert sum(body["counts"]) == body["count"] == 2


def test_seed_histogram_of_a_metric_no_result_has(seed_api: httpx.Client) -> None:
    body = seed_api.get("/results/histogram", params={"metric": "prompt_token_count"}).json()
    assert (body["count"], body["min"], body["max"], body["edges"], body["counts"]) == (0, None, None, None, [])
    assert body["unit"] == "tokens"
    csv_body = seed_api.get("/results/histogram", params={"metric": "prompt_token_count"}, headers=CSV)
    assert csv_body.text == "\ufeffbin_start,bin_end,count\r\n"


def test_seed_histogram_as_csv(seed_api: httpx.Client) -> None:
    response = seed_api.get("/results/histogram", params={"metric": "time_to_first_token", "bins": 3}, headers=CSV)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="histogram.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert rows == [
        ["bin_start", "bin_end", "count"],
        ["150.0", "200.0", "2"],
        ["200.0", "250.0", "1"],
        ["250.0", "300.0", "2"],
    ]


def test_a_histogram_needs_a_metric_and_bins_in_range(seed_api: httpx.Client) -> None:
    missing = assert_problem(seed_api.get("/results/histogram"), 422, "parameter")
    assert (missing["type"], missing["parameter"]) == ("urn:superbenchmark:problem:invalid-request", "metric")
    for bins in (0, 1001):
        refused = seed_api.get("/results/histogram", params={"metric": "token_count", "bins": bins})
        assert assert_problem(refused, 422, "parameter")["parameter"] == "bins"
    one = seed_api.get("/results/histogram", params={"metric": "token_count", "bins": 1}).json()
    assert (one["edges"], one["counts"]) == ([one["min"], one["max"]], [5])


def test_a_histogram_over_the_limit_is_refused() -> None:
    app = create_app(Settings(debug=True, data_file=SEED_FILE, max_statistics_results=4))
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        response = client.get("/results/histogram", params={"metric": "token_count"})
        body = assert_problem(response, 422, "count", "limit")
        assert body["type"] == "urn:superbenchmark:problem:window-too-large"
        assert (body["count"], body["limit"]) == (5, 4)


def test_histograms_filter_by_label_model_and_window(runs_api: httpx.Client) -> None:
    # Run b's TTFT is 120 + i % 10 for i < 60: each of 120..129 six times. Nine bins of width 1:
    # the last bin holds 128 and its upper edge 129.
    run_b = runs_api.get(
        "/results/histogram", params={"metric": "time_to_first_token", "bins": 9, "label": "run:b"}
    ).json()
    assert run_b["selection"]["labels"] == {"run": "b"}
    assert (run_b["count"], run_b["failed"], run_b["min"], run_b["max"]) == (60, 0, 120.0, 129.0)
    assert run_b["edges"] == [float(edge) for edge in range(120, 130)]
    assert run_b["counts"] == [6] * 8 + [12]
    # Run a on mistral (i % 3 == 0): total times 1000, 1003, ..., 1057; edges 1000, 1019, 1038, 1057.
    mistral = runs_api.get(
        "/results/histogram",
        params={"metric": "total_generation_time", "bins": 3, "label": "run:a", "model": "mistral"},
    ).json()
    assert (mistral["edges"], mistral["counts"]) == ([1000.0, 1019.0, 1038.0, 1057.0], [7, 6, 7])
    # The first ten minutes of both runs: i < 10, so run a's TTFT 100..109 and run b's 120..129.
    window = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T00:09:59Z"}
    early = runs_api.get("/results/histogram", params={"metric": "time_to_first_token", "bins": "2"} | window).json()
    assert (early["count"], early["edges"], early["counts"]) == (20, [100.0, 114.5, 129.0], [10, 10])
    as_csv = runs_api.get(
        "/results/histogram", params={"metric": "time_to_first_token", "bins": "2"} | window, headers=CSV
    )
    rows = list(csv.reader(io.StringIO(as_csv.text.removeprefix("\ufeff"))))
    assert rows[1:] == [["100.0", "114.5", "10"], ["114.5", "129.0", "10"]]


def test_histograms_of_throughput_on_a_log_scale(runs_api: httpx.Client) -> None:
    # The two runs' day only: another test of this module stores a result in 2031.
    params = {"metric": "output_throughput", "bins": "4", "scale": "log", "end": "2024-06-02"}
    body = runs_api.get("/results/histogram", params=params).json()
    assert (body["unit"], body["count"], sum(body["counts"])) == ("tokens/s", 120, 120)
    # 100 tokens in 1000 + i ms: from 100 / 1.059 to 100 tokens/s.
    assert (body["min"], body["max"]) == (pytest.approx(100 / 1.059), 100.0)
    ratios = [later / earlier for earlier, later in zip(body["edges"], body["edges"][1:], strict=False)]
    assert ratios == pytest.approx([ratios[0]] * 4)
