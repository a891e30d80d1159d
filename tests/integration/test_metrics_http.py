"""GET /metrics and X-Request-ID over real HTTP: requests by route template, store calls, imports, the
pool gauge, the build; the id echoed or replaced on every answer and in every problem."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families

from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow
from src.entrypoints.container import Container
from src.entrypoints.http.app import create_app
from src.entrypoints.metrics import build_version
from src.entrypoints.settings import Settings
from tests.databases import scratch_database
from tests.support import SEED_FILE, assert_problem, record, serving
from tests.unit.fakes import FakeResultStore

KEY = "metrics-key-0123456789"
WRITER = {"Authorization": f"Bearer {KEY}"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def total(found: Samples, name: str) -> float:
    return sum(count for (sample, _), count in found.items() if sample == name)


@pytest.fixture
def seed_api() -> Iterator[httpx.Client]:
    with serving(create_app(Settings(debug=True, data_file=SEED_FILE))) as url, httpx.Client(base_url=url) as client:
        yield client


def test_requests_are_counted_by_route_template_and_status_never_by_path(seed_api: httpx.Client) -> None:
    seed_api.get("/results/average")
    seed_api.get("/results/average")
    assert seed_api.get("/results/1").status_code == 200
    assert seed_api.get("/results/no-such-id", params={"note": "private"}).status_code == 404
    assert seed_api.get("/nowhere/private-path").status_code == 404
    assert seed_api.delete("/results/average").status_code == 405
    response = seed_api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "private" not in response.text
    assert "no-such-id" not in response.text
    found = samples(response.text)
    counted = "superbenchmark_http_requests_total"
    assert value(found, counted, method="GET", route="/results/average", status="200") == 2
    assert value(found, counted, method="GET", route="/results/{request_id}", status="200") == 1
    assert value(found, counted, method="GET", route="/results/{request_id}", status="404") == 1
    assert value(found, counted, method="GET", route="unmatched", status="404") == 1
    assert value(found, counted, method="DELETE", route="/results/average", status="405") == 1
    timed = "superbenchmark_http_request_duration_seconds_count"
    assert value(found, timed, method="GET", route="/results/average") == 2
    store_calls = "superbenchmark_store_call_duration_seconds_count"
    assert value(found, store_calls, operation="aggregate_async") == 2
    assert value(found, store_calls, operation="get") == 2
    assert value(found, "superbenchmark_build_info", version=build_version()) == 1
    # The JSON file store has no connection pool.
    assert value(found, "superbenchmark_database_pool_connections_in_use") == 0


def test_import_outcomes_are_counted_by_format(tmp_path: Path) -> None:
    lines = [
        record("m-1", "2024-06-01T00:00:00Z"),
        record("m-2", "2024-06-01T00:00:01Z"),
        record("m-3", "2024-06-01T00:00:02Z") | {"error": "timeout"},
        record("m-4", "2024-06-01T00:00:03Z", time_to_first_token=-1),
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    with scratch_database("sqlite", tmp_path) as url:
        app = create_app(Settings(debug=False, database_url=url, api_keys=KEY))
        with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
            headers = WRITER | {"Content-Type": "application/x-ndjson"}
            first = client.post("/results/import", content=body, headers=headers).json()
            again = client.post("/results/import", content=body, headers=headers).json()
            found = samples(client.get("/metrics").text)
        app.state.container.result_store().close()
    assert (first["stored"], first["rejected"], again["already_stored"]) == (3, 1, 3)
    imported = "superbenchmark_import_results_total"
    assert value(found, imported, format="ndjson", outcome="stored") == 3
    assert value(found, imported, format="ndjson", outcome="already_stored") == 3
    assert value(found, imported, format="ndjson", outcome="rejected") == 2
    assert value(found, imported, format="ndjson", outcome="failed") == 2
    store_calls = "superbenchmark_store_call_duration_seconds_count"
    assert value(found, store_calls, operation="add") >= 2


class PooledStore(FakeResultStore):
    """A store with a connection pool, as far as the metrics can see."""

    in_use = 0

    def pool_in_use(self) -> int:
        return self.in_use


def test_the_pool_gauge_reports_a_store_that_has_a_pool() -> None:
    store = PooledStore()
    container = Container()
    container.result_store.override(providers.Object(store))
    app = create_app(Settings(debug=True, data_file=SEED_FILE), container)
    with serving(app) as url, httpx.Client(base_url=url) as client:
        store.in_use = 3
        assert value(samples(client.get("/metrics").text), "superbenchmark_database_pool_connections_in_use") == 3
        store.in_use = 1
        assert value(samples(client.get("/metrics").text), "superbenchmark_database_pool_connections_in_use") == 1


def test_metrics_need_a_key_when_reads_do() -> None:
    app = create_app(Settings(debug=True, data_file=SEED_FILE, api_keys=KEY, read_requires_key=True))
    with serving(app) as url, httpx.Client(base_url=url) as client:
        assert_problem(client.get("/metrics"), 401, "request_id")
        assert client.get("/metrics", headers=WRITER).status_code == 200
        # The probes stay open; the metrics do not.
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("sent", ["abc", "trace-1.2:3_x", "A" * 128])
def test_a_sane_request_id_is_echoed(seed_api: httpx.Client, sent: str) -> None:
    assert seed_api.get("/results/average", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent
    problem = seed_api.get("/results/no-such-id", headers={"X-Request-ID": sent})
    assert problem.headers["X-Request-ID"] == sent
    assert assert_problem(problem, 404)["request_id"] == sent


@pytest.mark.parametrize("sent", ["", "has space", "A" * 129, "semi;colon", 'quote"d', "slash/ed", "Bearer abcdef"])
def test_an_insane_request_id_is_replaced(seed_api: httpx.Client, sent: str) -> None:
    response = seed_api.get("/results/average", headers={"X-Request-ID": sent})
    given = response.headers["X-Request-ID"]
    assert given != sent
    assert GENERATED_ID.fullmatch(given)


def test_every_answer_has_its_own_id_and_every_problem_names_it(seed_api: httpx.Client) -> None:
    answers = [
        seed_api.get("/results/average"),
        seed_api.get("/nowhere"),
        seed_api.get("/results/average/2024-06-02/2024-06-01"),
        seed_api.post("/results", json=[]),
    ]
    ids = [answer.headers["X-Request-ID"] for answer in answers]
    assert all(GENERATED_ID.fullmatch(given) for given in ids)
    assert len(set(ids)) == len(ids)
    for answer in answers[1:]:
        assert answer.status_code >= 400
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["request_id"] == answer.headers["X-Request-ID"]


class BrokenStore(FakeResultStore):
    async def aggregate_async(self, window: TimeWindow | None = None) -> ResultAggregate:
        raise RuntimeError("a bug, not a condition of the outside world")


def test_an_unexpected_error_is_a_500_carrying_the_request_id_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    container = Container()
    container.result_store.override(providers.Object(BrokenStore()))
    app = create_app(Settings(debug=True, data_file=SEED_FILE), container)
    with serving(app) as url, httpx.Client(base_url=url) as client:
        failed = client.get("/results/average", headers={"X-Request-ID": "broken-1"})
        # On a new connection: uvicorn closes the one whose app raised.
        found = samples(httpx.get(f"{url}/metrics").text)
    body: dict[str, Any] = assert_problem(failed, 500, "request_id")
    assert body["request_id"] == failed.headers["X-Request-ID"] == "broken-1"
    assert "a bug" not in failed.text
    counted = "superbenchmark_http_requests_total"
    assert value(found, counted, method="GET", route="/results/average", status="500") == 1
    logged = [entry for entry in caplog.records if entry.getMessage().startswith("unexpected error")]
    assert [getattr(entry, "request_id", None) for entry in logged] == ["broken-1"]
    assert logged[0].getMessage() == "unexpected error on GET /results/average"


def test_a_client_gone_mid_upload_counts_as_its_fault_not_a_server_failure(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(debug=True, data_file=SEED_FILE, api_keys=KEY))
    with serving(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as cut_short:
            cut_short.sendall(
                b"POST /results/import HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                + f"Authorization: Bearer {KEY}\r\nContent-Length: 100000\r\n\r\n".encode()
                + b'{"request_id": "a", "timestamp": "2024-06-01T00:00:00Z"'
            )
            time.sleep(0.3)  # the server is waiting for the rest of the body
        deadline = time.monotonic() + 5
        counted = "superbenchmark_http_requests_total"
        while time.monotonic() < deadline:
            found = samples(httpx.get(f"{url}/metrics", headers=WRITER).text)
            if value(found, counted, method="POST", route="/results/import", status="400"):
                break
            time.sleep(0.05)
    assert value(found, counted, method="POST", route="/results/import", status="400") == 1
    assert value(found, counted, method="POST", route="/results/import", status="500") == 0
    assert not [entry for entry in caplog.records if entry.levelname == "ERROR"]
