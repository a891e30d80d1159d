"""Read parameters every store must answer alike, over real HTTP: the DEBUG store, SQLite and PostgreSQL
serve the same seed results, and each URL below gets the same status and body from all three."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import SQL_KINDS, scratch_database
from tests.integration.test_ingestion_http import WRITER, sql_api
from tests.support import SEED_FILE, seed_records, serving

STORES = ("json_file", *SQL_KINDS)


@pytest.fixture(scope="module")
def apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, httpx.Client]]:
    """A client per store, each store holding the seed's five results."""
    with ExitStack() as stack:
        base_url = stack.enter_context(serving(create_app(Settings(debug=True, data_file=SEED_FILE))))
        clients = {"json_file": stack.enter_context(httpx.Client(base_url=base_url, timeout=60))}
        for kind in SQL_KINDS:
            url = stack.enter_context(scratch_database(kind, tmp_path_factory.mktemp(kind)))
            clients[kind] = stack.enter_context(contextmanager(sql_api)(url))
            assert clients[kind].post("/results", json=seed_records(), headers=WRITER).status_code == 201
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
    ("/results?cursor=" + base64.urlsafe_b64encode(b'["2024-06-01T12:00:00Z","a\\ud800"]').decode().rstrip("="), 422),
]


@pytest.mark.parametrize(("target", "status"), _SAME_EVERYWHERE)
def test_texts_no_result_holds_get_the_same_answer_from_every_store(
    apis: dict[str, httpx.Client], target: str, status: int
) -> None:
    answers = {store: apis[store].get(target) for store in STORES}
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
