"""A database that goes away and comes back: the server stays up, says 503, and recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
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


def api_on(url: str) -> Iterator[httpx.Client]:
    app = create_app(Settings(debug=False, database_url=url, api_keys=KEY))
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
