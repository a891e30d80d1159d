"""The HTTP API over real HTTP, against apps built by the factory with different settings."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow
from src.entrypoints.container import Container
from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.support import SEED_FILE, assert_problem, record, serving, write_result_file
from tests.unit.fakes import FakeResultStore


@pytest.fixture(scope="module")
def debug_api() -> Iterator[httpx.Client]:
    app = create_app(Settings(debug=True, data_file=SEED_FILE))
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def test_the_average_over_all_results(debug_api: httpx.Client) -> None:
    response = debug_api.get("/results/average")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "average_token_count": 10.2,
        "average_time_to_first_token": 216.0,
        "average_time_per_output_token": 27.6,
        "average_total_generation_time": 485.2,
        "count": 5,
        "failed": 0,
    }


def test_the_average_over_a_window(debug_api: httpx.Client) -> None:
    body = debug_api.get("/results/average/2024-06-01T12:00:00/2024-06-01T13:00:00").json()
    assert body == {
        "average_token_count": 5.5,
        "average_time_to_first_token": 175.0,
        "average_time_per_output_token": 27.5,
        "average_total_generation_time": 325.0,
        "count": 2,
        "failed": 0,
    }


def test_a_date_alone_as_end_covers_the_whole_day(debug_api: httpx.Client) -> None:
    assert debug_api.get("/results/average/2024-06-01/2024-06-01").json()["count"] == 3


@pytest.mark.parametrize(
    "path",
    [
        "/results/average/2024-06-01T13:00:00+01:00/2024-06-01T14:00:00+01:00",
        "/results/average/2024-06-01T13:00:00%2B01:00/2024-06-01T14:00:00%2B01:00",
        "/results/average/2024-06-01T12:00:00Z/2024-06-01T13:00:00.000Z",
        "/results/average/2024-06-01T07:00:00-05:00/2024-06-01T08:00:00-05:00",
    ],
)
def test_offsets_and_fractions_in_bounds(debug_api: httpx.Client, path: str) -> None:
    # Every spelling names 12:00 to 13:00 UTC.
    assert debug_api.get(path).json()["count"] == 2


def test_an_empty_window_answers_count_zero_and_null_averages(debug_api: httpx.Client) -> None:
    response = debug_api.get("/results/average/2020-01-01/2020-01-02")
    assert response.status_code == 200
    assert response.json() == {
        "average_token_count": None,
        "average_time_to_first_token": None,
        "average_time_per_output_token": None,
        "average_total_generation_time": None,
        "count": 0,
        "failed": 0,
    }


def test_a_reversed_window_is_a_422_problem_naming_its_bounds(debug_api: httpx.Client) -> None:
    body = assert_problem(debug_api.get("/results/average/2024-06-02/2024-06-01"), 422, "parameter")
    assert body["type"] == "urn:superbenchmark:problem:invalid-time-window"
    assert body["instance"] == "/results/average/2024-06-02/2024-06-01"
    assert body["parameter"] == "end_time"
    assert body["detail"] == (
        "the window ends before it starts: start_time 2024-06-02T00:00:00+00:00 "
        "is after end_time 2024-06-01T23:59:59.999999+00:00"
    )


@pytest.mark.parametrize(
    "bound", ["2024-13-01", "2024-06-31", "T25:00", "2024-06-01T25:00", "soon", "2024-06-01T12:00:00+99:00"]
)
def test_an_impossible_bound_is_a_422_problem_naming_it(debug_api: httpx.Client, bound: str) -> None:
    for parameter, path in (
        ("start_time", f"/results/average/{bound}/2024-06-02"),
        ("end_time", f"/results/average/2024-06-01/{bound}"),
    ):
        body = assert_problem(debug_api.get(path), 422, "parameter")
        assert body["type"] == "urn:superbenchmark:problem:invalid-parameter"
        assert body["parameter"] == parameter
        assert str(body["detail"]).startswith(f"{parameter}: {bound!r} is not a valid ISO 8601 date-time: ")


def test_an_unknown_path_is_a_404_problem(debug_api: httpx.Client) -> None:
    body = assert_problem(debug_api.get("/metrics/median"), 404)
    assert body["title"] == "Not Found"


def test_a_missing_bound_is_a_404_problem(debug_api: httpx.Client) -> None:
    assert_problem(debug_api.get("/results/average/2024-06-01"), 404)


def test_a_wrong_method_is_a_405_problem_that_says_what_is_allowed(debug_api: httpx.Client) -> None:
    response = debug_api.post("/results/average")
    body = assert_problem(response, 405)
    assert response.headers["allow"] == "GET"
    assert "allowed: GET" in str(body["detail"])


def test_the_openapi_schema_documents_units_examples_and_problems(debug_api: httpx.Client) -> None:
    schema = debug_api.get("/openapi.json").json()
    window = schema["paths"]["/results/average/{start_time}/{end_time}"]["get"]
    assert set(window["responses"]) >= {"200", "422", "503"}
    assert "application/problem+json" in window["responses"]["422"]["content"]
    assert all(parameter["examples"]["offset"]["value"] for parameter in window["parameters"])
    assert set(window["responses"]["422"]["content"]) == {"application/problem+json"}
    body = schema["components"]["schemas"]["AverageBody"]
    assert "milliseconds" in body["properties"]["average_time_to_first_token"]["description"]
    assert body["examples"]
    assert debug_api.get("/docs").status_code == 200


def test_the_production_placeholder_answers_503_not_ready_for_production() -> None:
    app = create_app(Settings(debug=False))
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        for path in ("/results/average", "/results/average/2024-06-01/2024-06-02"):
            body = assert_problem(client.get(path), 503)
            assert body["title"] == "Not ready for production"
            assert "SUPERBENCHMARK_DATABASE_URL" in str(body["detail"])
        # Bad input is still bad input, whatever the store.
        assert_problem(client.get("/results/average/2024-06-02/2024-06-01"), 422, "parameter")


class BrokenStore(FakeResultStore):
    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        raise RuntimeError("connection to secret-host:5432 refused for password hunter2")


def test_an_unexpected_failure_is_a_500_problem_that_reveals_nothing(caplog: pytest.LogCaptureFixture) -> None:
    container = Container()
    container.result_store.override(BrokenStore())
    app = create_app(Settings(debug=True, data_file=SEED_FILE), container=container)
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        response = client.get("/results/average")
    body = assert_problem(response, 500)
    assert "secret" not in response.text
    assert "hunter2" not in response.text
    assert body["title"] == "Internal Server Error"
    assert "hunter2" in caplog.text


def test_apps_in_one_process_answer_from_their_own_settings(tmp_path: Path) -> None:
    two_results = write_result_file(
        tmp_path / "two.json", [record("a", "2024-06-01T12:00:00Z"), record("b", "2024-06-01T13:00:00Z")]
    )
    seed = create_app(Settings(debug=True, data_file=SEED_FILE))
    other = create_app(Settings(debug=True, data_file=two_results))
    production = create_app(Settings(debug=False))
    with serving(seed) as seed_url, serving(other) as other_url, serving(production) as production_url:
        assert httpx.get(f"{seed_url}/results/average").json()["count"] == 5
        assert httpx.get(f"{other_url}/results/average").json()["count"] == 2
        assert httpx.get(f"{production_url}/results/average").status_code == 503


def test_a_huge_bound_is_refused_without_echoing_it_whole(debug_api: httpx.Client) -> None:
    bound = "2024-06-01T" + "9" * 5000
    body = assert_problem(debug_api.get(f"/results/average/{bound}/2024-06-02"), 422, "parameter")
    assert body["parameter"] == "start_time"
    assert len(str(body["detail"])) < 300
