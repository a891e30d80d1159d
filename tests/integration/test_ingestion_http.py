"""Writing and reading results over real HTTP, against SQLite and a real PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import SQL_KINDS, scratch_database
from tests.support import SEED_FILE, assert_problem, record, seed_records, serving

KEY = "k" * 16 + "-writer"
OTHER_KEY = "o" * 16 + "-second-writer"
WRITER = {"Authorization": f"Bearer {KEY}"}
NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture(params=SQL_KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with scratch_database(request.param, tmp_path) as url:
        yield url


def sql_api(url: str, **settings: Any) -> Iterator[httpx.Client]:
    options: dict[str, Any] = {"debug": False, "database_url": url, "api_keys": f"{KEY},{OTHER_KEY}"} | settings
    app = create_app(Settings(**options))
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield client
    app.state.container.result_store().close()


@pytest.fixture
def api(database: str) -> Iterator[httpx.Client]:
    yield from sql_api(database)


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in records)


def many(count: int, prefix: str = "r") -> list[dict[str, Any]]:
    """`count` results one second apart from 2024-06-01T00:00:00Z, with varied token counts."""
    first = datetime(2024, 6, 1, tzinfo=UTC)
    return [
        record(f"{prefix}{index:06d}", (first + timedelta(seconds=index)).isoformat(), token_count=index % 50)
        for index in range(count)
    ]


def test_seed_results_posted_give_the_seed_averages(api: httpx.Client) -> None:
    response = api.post("/results", json=seed_records(), headers=WRITER)
    assert response.status_code == 201
    assert response.json() == {"stored": 5, "already_stored": 0}
    assert api.get("/results/average").json() == {
        "average_token_count": 10.2,
        "average_time_to_first_token": 216.0,
        "average_time_per_output_token": 27.6,
        "average_total_generation_time": 485.2,
        "count": 5,
        "failed": 0,
    }
    assert api.get("/results/average/2024-06-01T12:00:00Z/2024-06-01T13:00:00Z").json()["count"] == 2


def test_one_result_is_stored_and_read_back_in_utc(api: httpx.Client) -> None:
    sent = record("one", "2024-06-01T14:00:00+02:00") | {"model": "llama-3-8b", "labels": {"run": "a", "gpu": "h100"}}
    assert api.post("/results", json=sent, headers=WRITER).status_code == 201
    body = api.get("/results/one").json()
    expected = sent | {"timestamp": "2024-06-01T12:00:00Z", "labels": {"gpu": "h100", "run": "a"}}
    assert body == expected | {"prompt_token_count": None, "error": None}


def test_reposting_an_identical_result_stores_nothing_and_says_so(api: httpx.Client) -> None:
    sent = record("same", "2024-06-01T12:00:00Z")
    assert api.post("/results", json=sent, headers=WRITER).json() == {"stored": 1, "already_stored": 0}
    # The same instant in another offset is the same result.
    again = sent | {"timestamp": "2024-06-01T14:00:00+02:00"}
    response = api.post("/results", json=[again], headers=WRITER)
    assert response.status_code == 200
    assert response.json() == {"stored": 0, "already_stored": 1}
    assert api.get("/results/average").json()["count"] == 1


def test_the_same_id_with_other_content_is_a_409_and_stores_nothing(api: httpx.Client) -> None:
    api.post("/results", json=record("taken", "2024-06-01T12:00:00Z"), headers=WRITER)
    batch = [record("fresh", "2024-06-01T12:00:00Z"), record("taken", "2024-06-01T12:00:00Z", token_count=11)]
    body = assert_problem(api.post("/results", json=batch, headers=WRITER), 409, "request_ids")
    assert body["request_ids"] == ["taken"]
    assert api.get("/results/fresh").status_code == 404
    assert api.get("/results/average").json()["count"] == 1


def test_duplicates_within_one_batch(api: httpx.Client) -> None:
    one = record("twice", "2024-06-01T12:00:00Z")
    assert api.post("/results", json=[one, one], headers=WRITER).json() == {"stored": 1, "already_stored": 1}
    clash = [record("x", "2024-06-01T12:00:00Z"), record("x", "2024-06-01T12:00:00Z", token_count=99)]
    assert assert_problem(api.post("/results", json=clash, headers=WRITER), 409, "request_ids")["request_ids"] == ["x"]
    assert api.get("/results/x").status_code == 404


def test_a_batch_with_bad_records_lists_each_and_stores_nothing(api: httpx.Client) -> None:
    batch = [
        record("good", "2024-06-01T12:00:00Z"),
        record("bad-time", "yesterday"),
        record("good-2", "2024-06-01T12:00:00Z"),
        record("negative", "2024-06-01T12:00:00Z", time_to_first_token=-1),
        "not an object",
    ]
    body = assert_problem(api.post("/results", json=batch, headers=WRITER), 422, "errors")
    assert [(error["index"], error["request_id"], error["field"]) for error in body["errors"]] == [
        (1, "bad-time", "timestamp"),
        (3, "negative", "time_to_first_token"),
        (4, None, None),
    ]
    assert api.get("/results/average").json()["count"] == 0


@pytest.mark.parametrize("body", [b"{", b"42", b'"text"', b""])
def test_a_body_that_is_no_result_is_a_422(api: httpx.Client, body: bytes) -> None:
    assert_problem(api.post("/results", content=body, headers=WRITER), 422, "errors")


def test_more_than_ten_thousand_results_in_one_post_are_refused(api: httpx.Client) -> None:
    body = assert_problem(api.post("/results", json=[{}] * 10_001, headers=WRITER), 422, "errors")
    assert "10000" in body["detail"]


def test_keys(api: httpx.Client) -> None:
    sent = record("k", "2024-06-01T12:00:00Z")
    missing = assert_problem(api.post("/results", json=sent), 401)
    assert missing["type"].endswith("missing-api-key")
    assert api.post("/results", json=sent).headers["www-authenticate"].startswith("Bearer")
    wrong = assert_problem(api.post("/results", json=sent, headers={"Authorization": f"Bearer {KEY}x"}), 401)
    assert wrong["type"].endswith("wrong-api-key")
    assert_problem(api.post("/results", json=sent, headers={"Authorization": f"Basic {KEY}"}), 401)
    assert api.post("/results", json=sent, headers={"Authorization": f"Bearer {OTHER_KEY}"}).status_code == 201
    # Reads are open by default.
    assert api.get("/results/k").status_code == 200


def test_without_keys_no_one_writes(database: str) -> None:
    for client in sql_api(database, api_keys=""):
        body = assert_problem(client.post("/results", json=record("k", "2024-06-01T12:00:00Z"), headers=WRITER), 403)
        assert "SUPERBENCHMARK_API_KEYS" in body["detail"]
        assert_problem(client.post("/results/import", content=b"{}\n", headers=WRITER | NDJSON), 403)


def test_reads_can_require_a_key(database: str) -> None:
    for client in sql_api(database, read_requires_key=True):
        for path in ("/results/average", "/results/average/2024-06-01/2024-06-02", "/results", "/results/x"):
            assert_problem(client.get(path), 401)
        assert client.get("/results/average", headers=WRITER).status_code == 200
        # The probes stay open for orchestrators.
        assert client.get("/healthz").status_code == 200


def test_an_oversized_body_is_a_413_and_stores_nothing(database: str) -> None:
    for client in sql_api(database, max_body_bytes=1000, max_import_bytes=1500):
        batch = [record(f"big{index}", "2024-06-01T12:00:00Z") for index in range(20)]
        body = assert_problem(client.post("/results", json=batch, headers=WRITER), 413)
        assert "SUPERBENCHMARK_MAX_BODY_BYTES" in body["detail"]

        # Without a Content-Length the limit still holds, counted as the body streams in.
        assert_problem(client.post("/results", content=iter([json.dumps(batch).encode()]), headers=WRITER), 413)
        line = json.dumps(
            record(
                "long",
                "2024-06-01T12:00:00Z",
            )
            | {"prompt_text": "x" * 2000}
        ).encode()
        refused = assert_problem(client.post("/results/import", content=line + b"\n", headers=WRITER | NDJSON), 413)
        assert "SUPERBENCHMARK_MAX_IMPORT_BYTES" in refused["detail"]
        # Streamed without a Content-Length, an import is counted as it arrives.
        streamed = client.post("/results/import", content=iter([line, b"\n"]), headers=WRITER | NDJSON)
        assert_problem(streamed, 413)
        assert client.get("/results/average").json()["count"] == 0


def test_an_import_stores_good_lines_and_reports_bad_ones(database: str) -> None:
    records = many(2500)
    lines = ndjson(records[:1200]).splitlines(keepends=True)
    lines.insert(700, b'{"request_id": "broken", "token_count": \n')
    lines.insert(900, b"\n")  # blank lines are skipped, but counted
    lines.append(json.dumps(record("r000005", "2024-06-01T12:00:00Z", token_count=49)).encode() + b"\n")
    body = b"".join(lines) + ndjson(records[1200:])
    for client in sql_api(database, import_batch_rows=1000):
        response = client.post("/results/import", content=body, headers=WRITER | NDJSON)
        assert response.status_code == 200
        report = response.json()
        assert (report["stored"], report["already_stored"], report["rejected"]) == (2500, 0, 2)
        assert [(error["line"], error["request_id"], error["field"]) for error in report["errors"]] == [
            (701, None, None),
            (1203, "r000005", "request_id"),
        ]
        assert client.get("/results/average").json()["count"] == 2500
        # Run again: nothing new.
        again = client.post("/results/import", content=ndjson(records), headers=WRITER | NDJSON).json()
        assert (again["stored"], again["already_stored"], again["rejected"]) == (0, 2500, 0)


def test_an_empty_import_stores_nothing(api: httpx.Client) -> None:
    response = api.post("/results/import", content=b"\n\n", headers=WRITER | NDJSON)
    report = response.json()
    assert (report["stored"], report["already_stored"], report["rejected"], report["errors"]) == (0, 0, 0, [])
    assert (report["format"], report["tool"]) == ("ndjson", "superbenchmark")


def test_an_import_of_no_known_format_names_the_formats(api: httpx.Client) -> None:
    refused = api.post("/results/import", content=b"a,b\n1,2\n", headers=WRITER | {"Content-Type": "text/csv"})
    problem = assert_problem(refused, 422, "parameter")
    assert problem["parameter"] == "format"
    assert "seed" in problem["detail"]
    assert "ndjson" in problem["detail"]


def test_concurrent_writers_of_overlapping_batches_lose_and_double_nothing(api: httpx.Client) -> None:
    records = many(3000)
    # Six writers, each posting an overlapping slice in a different order.
    slices = [records[start : start + 1500] for start in range(0, 1800, 300)]
    slices = [part if index % 2 else part[::-1] for index, part in enumerate(slices)]
    with ThreadPoolExecutor(len(slices)) as pool:
        outcomes = list(pool.map(lambda part: api.post("/results", json=part, headers=WRITER).json(), slices))
    assert sum(outcome["stored"] for outcome in outcomes) == len({r["request_id"] for part in slices for r in part})
    assert sum(outcome["stored"] + outcome["already_stored"] for outcome in outcomes) == 1500 * len(slices)
    union = {r["request_id"]: r for part in slices for r in part}
    # Counts and sums both match the union: no result lost, none counted twice in the rollups.
    for path in ("/results/average", "/results/average/2024-06-01T00:00:01Z/2024-06-30"):
        inside = [r for r in union.values() if path.endswith("average") or r["request_id"] != "r000000"]
        body = api.get(path).json()
        assert body["count"] == len(inside)
        assert body["average_token_count"] == pytest.approx(sum(r["token_count"] for r in inside) / len(inside))


def test_pages_walk_every_result_once_in_time_order(api: httpx.Client) -> None:
    records = many(250)
    api.post("/results", json=records[:200], headers=WRITER)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 40} | ({"cursor": cursor} if cursor else {})
        page = api.get("/results", params=params).json()
        seen += [result["request_id"] for result in page["results"]]
        if len(seen) == 80:
            # Results arriving meanwhile, before and after the cursor, do not disturb the walk.
            api.post("/results", json=records[200:], headers=WRITER)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["request_id"] for r in records]


def test_pages_filter_by_window_and_model(api: httpx.Client) -> None:
    records = [r | {"model": "a" if index % 3 else "b"} for index, r in enumerate(many(100))]
    api.post("/results", json=records, headers=WRITER)
    page = api.get(
        "/results", params={"model": "b", "start": "2024-06-01T00:00:30Z", "end": "2024-06-01T00:01:00Z"}
    ).json()
    expected = [r["request_id"] for r in records[30:61] if r["model"] == "b"]
    assert [result["request_id"] for result in page["results"]] == expected
    assert page["next_cursor"] is None


# The last one nests arrays 1,000 deep: read untyped it exhausted the recursion limit (a 500).
_NESTED = base64.urlsafe_b64encode(b"[" * 1000 + b"]" * 1000).decode().rstrip("=")


@pytest.mark.parametrize("cursor", ["nonsense", "W10", "WyJ4IiwgMV0", _NESTED])
def test_a_cursor_not_handed_out_is_a_422(api: httpx.Client, cursor: str) -> None:
    assert_problem(api.get("/results", params={"cursor": cursor}), 422)
    assert_problem(api.get("/runs", params={"cursor": cursor}), 422)


def test_an_absent_result_is_a_404_problem(api: httpx.Client) -> None:
    assert assert_problem(api.get("/results/nobody"), 404)["type"].endswith("result-not-found")


def test_the_debug_store_serves_reads_and_refuses_writes() -> None:
    app = create_app(Settings(debug=True, data_file=SEED_FILE, api_keys=KEY))
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        refused = client.post("/results", json=record("n", "2024-06-01T12:00:00Z"), headers=WRITER)
        body = assert_problem(refused, 405)
        assert "takes no writes" in body["detail"]
        assert refused.headers["allow"] == "GET"  # what the read-only store still allows at /results
        imported = client.post("/results/import", content=b'{"request_id": "n"}\n', headers=WRITER | NDJSON)
        assert_problem(imported, 405)
        assert imported.headers["allow"] == ""  # the path only writes
        deleted = client.delete("/runs/x", headers=WRITER)
        assert_problem(deleted, 405)
        assert deleted.headers["allow"] == ""
        assert_problem(client.post("/results/import", content=b"", headers=WRITER | NDJSON), 405)
        assert client.get("/results/3").json()["request_id"] == "3"
        assert [r["request_id"] for r in client.get("/results", params={"limit": 3}).json()["results"]] == [
            "1",
            "2",
            "3",
        ]
        assert client.get("/readyz").json() == {"status": "ready"}


def test_probes(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}
