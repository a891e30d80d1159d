"""A read replica: the service reads from a PostgreSQL hot standby, writes to its primary, and reads
from the primary while the standby is down.

Reads are shown to come from the standby by pausing its WAL replay: a result written through the
service is then on the primary but not on the standby, and the service does not see it until
replay resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import OwnPostgres, migrated
from tests.support import assert_problem, record, serving

KEY = "replica-test-key-0123456789"
WRITER = {"Authorization": f"Bearer {KEY}"}
RUN = "replica-run"
# Long enough for a replay, a restart or the store's retry interval on a loaded two-core machine.
PATIENCE_SECONDS = 30


@pytest.fixture
def clusters() -> Iterator[tuple[OwnPostgres, OwnPostgres]]:
    """A migrated primary and a hot standby of it, both running; both removed after, whatever happened."""
    primary = OwnPostgres()
    standby: OwnPostgres | None = None
    try:
        primary.start()
        migrated(primary.url)
        standby = OwnPostgres(standby_of=primary)
        standby.start()
        yield primary, standby
    finally:
        if standby is not None:
            standby.remove()
        primary.remove()


def result(request_id: str) -> dict[str, Any]:
    return record(request_id, "2024-06-01T12:00:00Z") | {"labels": {"run": RUN}}


def scalar(url: str, query: str, *parameters: object) -> Any:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(query, parameters).fetchone()
    assert row is not None
    return row[0]


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {PATIENCE_SECONDS} s: {what}"
        time.sleep(0.1)


def replayed(primary: OwnPostgres, standby: OwnPostgres) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    written = scalar(primary.url, "SELECT pg_current_wal_lsn()::text")
    eventually(
        lambda: scalar(standby.url, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", written),
        "the standby replays the primary's writes",
    )


def seen(client: httpx.Client) -> dict[str, Any]:
    """How many results each kind of read finds: averages (all time and a window), a listing, the
    run, statistics; and whether c is found by its request_id."""
    stats = client.get("/results/stats", params={"label": f"run:{RUN}"})
    runs = client.get("/runs").json()["runs"]
    return {
        "average": client.get("/results/average").json()["count"],
        "window": client.get("/results/average/2024-06-01/2024-06-01").json()["count"],
        "listed": len(client.get("/results", params={"limit": 100}).json()["results"]),
        "run": runs[0]["count"] if runs else 0,
        "stats": stats.json()["groups"][0]["count"],
        "c": client.get("/results/c").status_code,
    }


def everywhere(count: int, c: int) -> dict[str, Any]:
    return {"average": count, "window": count, "listed": count, "run": count, "stats": count, "c": c}


def replica_state(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["databases"]["primary"] == {"status": "ready"}
    state: dict[str, Any] = body["databases"]["replica"]
    return state


def test_reads_come_from_the_standby_and_from_the_primary_while_it_is_down(
    clusters: tuple[OwnPostgres, OwnPostgres], caplog: pytest.LogCaptureFixture
) -> None:
    primary, standby = clusters
    app = create_app(Settings(debug=False, database_url=primary.url, read_database_url=standby.url, api_keys=KEY))
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.post("/results", json=[result("a"), result("b")], headers=WRITER).status_code == 201
        replayed(primary, standby)
        assert seen(client) == everywhere(2, c=404)
        state = replica_state(client)
        assert state["status"] == "ready"
        assert 0 <= state["lag_seconds"] < PATIENCE_SECONDS

        # Replay paused: what is written now reaches the primary, and the standby's data stands still.
        scalar(standby.url, "SELECT pg_wal_replay_pause()::text")
        eventually(
            lambda: scalar(standby.url, "SELECT pg_get_wal_replay_pause_state()") == "paused",
            "the standby pauses its replay",
        )
        assert client.post("/results", json=result("c"), headers=WRITER).status_code == 201
        assert scalar(primary.url, "SELECT count(*) FROM results") == 3
        assert seen(client) == everywhere(2, c=404), "every read kind answers from the standby"
        # The standby receives c's commit but does not replay it: it trails by the time since b's.
        eventually(lambda: (replica_state(client)["lag_seconds"] or 0) > 0, "the standby reports its lag")

        scalar(standby.url, "SELECT pg_wal_replay_resume()::text")
        replayed(primary, standby)
        assert seen(client) == everywhere(3, c=200)

        # The standby stops: reads answer from the primary, with one warning for the whole outage.
        standby.stop()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="src.adapters.replicated_store"):
            for _ in range(3):
                assert seen(client) == everywhere(3, c=200)
        warnings = [entry.getMessage() for entry in caplog.records if entry.name == "src.adapters.replicated_store"]
        assert len(warnings) == 1, warnings
        assert "reads go to the primary" in warnings[0]
        state = replica_state(client)
        assert (state["status"], state["lag_seconds"]) == ("unavailable", None)
        assert "reads go to the primary" in state["detail"]
        # A write while the standby is down is read from the primary at once.
        assert client.post("/results", json=result("d"), headers=WRITER).status_code == 201
        assert seen(client) == everywhere(4, c=200)

        # The standby comes back, paused: once the store retries it, reads trail the primary again.
        standby.start()
        eventually(lambda: replica_state(client)["status"] == "ready", "the standby is reported back")
        replayed(primary, standby)
        scalar(standby.url, "SELECT pg_wal_replay_pause()::text")
        assert client.post("/results", json=result("e"), headers=WRITER).status_code == 201
        eventually(lambda: seen(client) == everywhere(4, c=200), "reads return to the standby")
        scalar(standby.url, "SELECT pg_wal_replay_resume()::text")

        # Both down: the primary's 503, as without a replica.
        standby.stop()
        primary.stop()
        assert_problem(client.get("/results/average"), 503)
        assert_problem(client.get("/readyz"), 503)
