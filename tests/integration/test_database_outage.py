"""A database that goes away and comes back: the server stays up, says 503, and recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from src.adapters.sql_store.base import SchemaMismatch
from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import OwnPostgres, migrated
from tests.support import assert_problem, record, serving

KEY = "outage-test-key-0123456789"
WRITER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def postgres() -> Iterator[OwnPostgres]:
    cluster = OwnPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def api_on(url: str, **settings: Any) -> Iterator[httpx.Client]:
    app = create_app(Settings(debug=False, database_url=url, api_keys=KEY, **settings))
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        yield client
    app.state.container.result_store().close()


def assert_unavailable(client: httpx.Client) -> None:
    for response in (
        client.get("/readyz"),
        client.get("/results/average"),
        client.get("/results/average/2024-06-01/2024-06-02"),
        client.get("/results/a"),
        client.post("/results", json=record("b", "2024-06-01T12:00:00Z"), headers=WRITER),
    ):
        body = assert_problem(response, 503)
        assert body["title"] == "Database unavailable"
    assert client.get("/healthz").json() == {"status": "ok"}


def eventually_ready(client: httpx.Client, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover after the database came back"
        time.sleep(0.2)


def test_the_database_stops_and_comes_back(postgres: OwnPostgres) -> None:
    migrated(postgres.url)
    for client in api_on(postgres.url):
        assert client.post("/results", json=record("a", "2024-06-01T12:00:00Z"), headers=WRITER).status_code == 201
        postgres.stop()
        assert_unavailable(client)
        postgres.start()
        eventually_ready(client)
        assert client.get("/results/average").json()["count"] == 1
        assert client.post("/results", json=record("b", "2024-06-01T12:00:00Z"), headers=WRITER).status_code == 201
        assert client.get("/results/average").json()["count"] == 2


def test_the_server_starts_while_the_database_is_down(postgres: OwnPostgres) -> None:
    migrated(postgres.url)
    postgres.stop()
    for client in api_on(postgres.url):
        assert_unavailable(client)
        postgres.start()
        eventually_ready(client)
        assert client.get("/results/average").json()["count"] == 0


def test_a_database_behind_the_code_stops_startup_naming_the_fix(postgres: OwnPostgres) -> None:
    with pytest.raises(SchemaMismatch, match="make migrate"):
        create_app(Settings(debug=False, database_url=postgres.url, api_keys=KEY))


def test_a_database_found_behind_the_code_later_is_a_503_until_migrated(postgres: OwnPostgres) -> None:
    postgres.stop()
    for client in api_on(postgres.url):
        postgres.start()
        body = assert_problem(client.get("/readyz"), 503)
        assert "make migrate" in body["detail"]
        migrated(postgres.url)
        eventually_ready(client)


def _fill_pools(client: httpx.Client) -> None:
    """Several connections of each kind in the server's pools: concurrent averages, statistics and writes."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(client.get, ["/results/average/2024-06-01/2024-06-02"] * 32))
        list(pool.map(client.get, ["/results/stats"] * 16))
        bodies = [record(f"w{index}", "2024-06-01T12:00:00Z") for index in range(16)]
        list(pool.map(lambda body: client.post("/results", json=body, headers=WRITER), bodies))


@pytest.mark.parametrize("mirrored", [0, 1_000], ids=["averages from the database", "averages from the copy"])
def test_connections_the_database_ended_are_replaced_without_a_failed_request(
    postgres: OwnPostgres, mirrored: int
) -> None:
    migrated(postgres.url)
    for client in api_on(postgres.url, averages_mirror_results=mirrored):
        assert client.post("/results", json=record("a", "2024-06-01T12:00:00Z"), headers=WRITER).status_code == 201
        _fill_pools(client)
        with psycopg.connect(postgres.url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
        assert ended is not None
        assert ended[0] >= 2
        time.sleep(0.2)  # the server has seen nothing yet: its pools hold the ended connections
        answers = [client.get("/results/average") for _ in range(10)]
        answers += [
            client.post("/results", json=record(f"after{index}", "2024-06-01T12:00:00Z"), headers=WRITER)
            for index in range(6)
        ]
        answers += [client.get("/results/stats") for _ in range(4)]
        failures = [answer.text for answer in answers if answer.status_code >= 500]
        assert [answer.status_code for answer in answers] == [200] * 10 + [201] * 6 + [200] * 4, failures
        assert client.get("/results/average").json()["count"] == 23
