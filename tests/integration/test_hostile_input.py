"""Input sent as an attacker or an unlucky user would send it, over real HTTP and in DEBUG data files:
every store answers with a clear refusal, loses nothing, and reports exactly what it stored."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from src.adapters.json_store.result_file import ResultFileError, read_result_file
from src.adapters.json_store.store import JsonFileResultStore
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.stores import open_sql_store
from src.domain.benchmark_result import RESERVED_REQUEST_IDS, BenchmarkResult
from src.domain.errors import ResultConflict, StoreUnavailable
from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import SQL_KINDS, scratch_database
from tests.integration.test_ingestion_http import KEY, NDJSON, WRITER, many, ndjson, sql_api
from tests.support import SEED_FILE, assert_problem, record, serving, write_result_file

DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 1_000 + b"1" + b"}" * 1_000
LONE_SURROGATE = r"\ud800"


@pytest.fixture(params=SQL_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    with scratch_database(request.param, tmp_path) as url:
        yield from sql_api(url, import_batch_rows=50)


def line(request_id: str, **metrics: Any) -> bytes:
    return json.dumps(record(request_id, "2024-06-01T12:00:00Z", **metrics)).encode()


def imported(api: httpx.Client, *lines: bytes) -> dict[str, Any]:
    response = api.post("/results/import", content=b"\n".join(lines), headers=WRITER | NDJSON)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Data loss


def test_a_repeated_id_keeps_its_first_line(api: httpx.Client) -> None:
    report = imported(api, line("x", token_count=1), line("x", token_count=2), line("x", token_count=1))
    assert (report["stored"], report["already_stored"], report["rejected"]) == (1, 1, 1)
    assert report["errors"][0]["line"] == 2
    assert api.get("/results/x").json()["token_count"] == 1


def test_concurrent_conflicting_imports_each_report_exactly_what_they_stored(api: httpx.Client) -> None:
    # Four importers send the same ids, each with its own token_count and in its own order: every
    # id is stored once, by one of them, and each report's `stored` is exactly the number of rows
    # carrying its content. Orders differ so that a batch meets conflicts from several writers,
    # some of them committed while it was being stored.
    ids, importers = 2_000, 4
    bodies = []
    for sender in range(importers):
        lines = [item | {"token_count": sender} for item in many(ids)]
        random.Random(sender).shuffle(lines)
        bodies.append(ndjson(lines))
    with ThreadPoolExecutor(importers) as pool:
        responses = list(
            pool.map(lambda body: api.post("/results/import", content=body, headers=WRITER | NDJSON), bodies)
        )
    assert [response.status_code for response in responses] == [200] * importers, [r.text for r in responses]
    reports = [response.json() for response in responses]
    stored_by: dict[int, int] = dict.fromkeys(range(importers), 0)
    cursor = None
    while True:
        page = api.get("/results", params={"limit": 1000} | ({"cursor": cursor} if cursor else {})).json()
        for result in page["results"]:
            stored_by[result["token_count"]] += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sum(stored_by.values()) == ids
    for sender, report in enumerate(reports):
        assert report["stored"] == stored_by[sender]
        assert report["stored"] + report["already_stored"] + report["rejected"] == ids
        assert report["already_stored"] == 0


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_an_add_that_keeps_the_others_stores_them_and_names_the_conflicts(kind: str, tmp_path: Path) -> None:
    with scratch_database(kind, tmp_path) as url:
        store = open_sql_store(database_url(url))
        try:
            first = [BenchmarkResult.from_mapping(item) for item in many(3)]
            store.add(first)
            changed = BenchmarkResult.from_mapping(many(3)[1] | {"token_count": 49})
            batch = [first[0], changed, BenchmarkResult.from_mapping(many(4)[3])]
            with pytest.raises(ResultConflict):
                store.add(batch)
            assert store.get("r000003") is None  # all or nothing stored nothing
            outcome = store.add(batch, all_or_nothing=False)
            assert (outcome.stored, outcome.already_stored, outcome.conflicting) == (1, 1, ("r000001",))
            stored = store.get("r000001")
            assert stored is not None
            assert stored.token_count == 1
            assert store.get("r000003") is not None
        finally:
            store.close()


# 5xx on input


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT])
def test_json_nested_beyond_reason_is_a_422(api: httpx.Client, body: bytes) -> None:
    response = api.post("/results", content=body, headers=WRITER | {"Content-Type": "application/json"})
    problem = assert_problem(response, 422, "errors")
    assert "nested too deeply" in problem["detail"]


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT])
def test_one_deep_import_line_costs_only_itself(api: httpx.Client, deep: bytes) -> None:
    report = imported(api, line("before"), deep, line("after"))
    assert (report["stored"], report["rejected"]) == (2, 1)
    assert report["errors"][0]["line"] == 2
    assert "nested too deeply" in report["errors"][0]["reason"]


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT])
def test_a_deep_debug_file_is_one_clear_refusal(tmp_path: Path, deep: bytes) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(b'{"benchmarking_results": [' + deep + b"]}")
    with pytest.raises(ResultFileError, match="nested too deeply"):
        read_result_file(path)


# Every store accepts exactly the same results


REFUSED_FIELDS: list[tuple[str, object]] = [
    ("labels", 0),
    ("labels", ""),
    ("labels", []),
    ("labels", None),
    ("request_id", "a/b"),
    *(("request_id", reserved) for reserved in sorted(RESERVED_REQUEST_IDS)),
]


@pytest.mark.parametrize(("field", "value"), REFUSED_FIELDS)
def test_what_http_refuses_a_debug_file_refuses(api: httpx.Client, tmp_path: Path, field: str, value: object) -> None:
    sent = record("ok", "2024-06-01T12:00:00Z") | {field: value}
    problem = assert_problem(api.post("/results", json=sent, headers=WRITER), 422, "errors")
    assert problem["errors"][0]["field"] == field
    with pytest.raises(ResultFileError, match=field):
        read_result_file(write_result_file(tmp_path / "results.json", [sent]))


@pytest.mark.parametrize("field", ["request_id", "model", "prompt_text", "generated_text", "label key", "label value"])
def test_a_lone_surrogate_is_refused_everywhere(api: httpx.Client, tmp_path: Path, field: str) -> None:
    text = "a" + LONE_SURROGATE + "b"
    values = {
        "request_id": f'"request_id": "{text}"',
        "model": f'"request_id": "s", "model": "{text}"',
        "prompt_text": f'"request_id": "s", "prompt_text": "{text}"',
        "generated_text": f'"request_id": "s", "generated_text": "{text}"',
        "label key": f'"request_id": "s", "labels": {{"{text}": "v"}}',
        "label value": f'"request_id": "s", "labels": {{"k": "{text}"}}',
    }
    body = (
        "{" + values[field] + ', "token_count": 1, "time_to_first_token": 1, "time_per_output_token": 1, '
        '"total_generation_time": 2, "timestamp": "2024-06-01T12:00:00Z"}'
    )
    refused = api.post("/results", content=body, headers=WRITER | {"Content-Type": "application/json"})
    assert "lone surrogate" in assert_problem(refused, 422, "errors")["detail"]
    report = imported(api, body.encode(), line("fine"))
    assert (report["stored"], report["rejected"]) == (1, 1)
    path = tmp_path / "results.json"
    path.write_text('{"benchmarking_results": [' + body + "]}", encoding="utf-8")
    with pytest.raises(ResultFileError, match="lone surrogate"):
        read_result_file(path)


def test_every_fixed_name_under_results_is_a_reserved_request_id() -> None:
    # A new route at /results/<name> would hide a stored result of that id: the domain must refuse it.
    app = create_app(Settings(debug=True, data_file=SEED_FILE))
    fixed = {
        route.path.split("/")[2]
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/results/") and "{" not in route.path.split("/")[2]
    }
    assert fixed
    assert fixed <= RESERVED_REQUEST_IDS


# Security


def test_the_api_description_needs_a_key_when_reads_do(tmp_path: Path) -> None:
    app = create_app(Settings(debug=True, data_file=SEED_FILE, read_requires_key=True, api_keys=KEY))
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert_problem(client.get(path), 401)
            assert client.get(path, headers=WRITER).status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
    open_app = create_app(Settings(debug=True, data_file=SEED_FILE))
    with serving(open_app) as base_url, httpx.Client(base_url=base_url) as client:
        assert client.get("/openapi.json").json()["info"]["title"] == "SuperBenchmark"
        assert client.get("/docs").status_code == 200


# The DEBUG store


def test_a_data_file_rewritten_in_place_with_its_size_and_time_restored_is_noticed(tmp_path: Path) -> None:
    before = [record("a", "2024-06-01T12:00:00Z", token_count=10)]
    after = [record("b", "2024-06-01T12:00:00Z", token_count=20)]
    path = write_result_file(tmp_path / "results.json", before)
    store = JsonFileResultStore.load(path)
    status = path.stat()
    write_result_file(path, after)  # as cp -p, rsync -t or tar would leave it
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert path.stat().st_size == status.st_size
    assert path.stat().st_mtime_ns == status.st_mtime_ns
    with pytest.raises(StoreUnavailable, match="changed since the server started"):
        store.get("b")
    assert store.aggregate().count == 1  # averages keep serving the file as it was read


def test_an_unchanged_data_file_serves_its_records(tmp_path: Path) -> None:
    path = write_result_file(tmp_path / "results.json", [record("a", "2024-06-01T12:00:00Z", token_count=10)])
    store = JsonFileResultStore.load(path)
    os.utime(path)  # touched, not changed
    found = store.get("a")
    assert found is not None
    assert found.token_count == 10
