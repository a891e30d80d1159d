"""The server's log, read from a real process's stderr: one access line per request, in text or JSON,
with the request's id, and never an API key, a body or a query string."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.processes import running_server
from tests.support import SEED_FILE

KEY = "log-test-key-SECRETKEY-0123456789"
ACCESS_FIELDS = {"time", "level", "message", "request_id", "method", "route", "status", "duration_ms"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def settings(log_format: str) -> dict[str, str]:
    return {
        "SUPERBENCHMARK_DEBUG": "true",
        "SUPERBENCHMARK_DATA_FILE": str(SEED_FILE),
        "SUPERBENCHMARK_API_KEYS": KEY,
        "SUPERBENCHMARK_LOG_FORMAT": log_format,
    }


def json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    # Every line is one JSON object: nothing of the server writes around the formatter.
    return [json.loads(line) for line in lines]


def access_lines(stderr: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(stderr) if line.get("logger") == "superbenchmark.access"]


def test_a_json_access_line_carries_the_request_s_fields(tmp_path: Path) -> None:
    with running_server(settings("json"), tmp_path, "--log-level", "info") as server:
        answered = httpx.get(f"{server.url}/results/1", headers={"X-Request-ID": "trace-42"})
        missing = httpx.get(f"{server.url}/nowhere", headers={"X-Request-ID": "trace-43"})
        status, stderr = server.stop()
    assert status == 0
    assert (answered.status_code, missing.status_code) == (200, 404)
    lines = {line["request_id"]: line for line in access_lines(stderr)}
    line = lines["trace-42"]
    assert set(line) >= ACCESS_FIELDS
    assert (line["level"], line["method"], line["route"], line["status"]) == (
        "INFO",
        "GET",
        "/results/{request_id}",
        200,
    )
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["time"].endswith("+00:00")
    assert (lines["trace-43"]["route"], lines["trace-43"]["status"]) == ("unmatched", 404)


def test_keys_bodies_and_query_strings_never_reach_the_log(tmp_path: Path) -> None:
    secret_headers = {"Authorization": f"Bearer {KEY}", "X-Request-ID": "private-1"}
    with running_server(settings("json"), tmp_path, "--log-level", "debug") as server:
        read = httpx.get(f"{server.url}/results/average", params={"token": "SECRETQUERY"}, headers=secret_headers)
        # The key is checked, then the body read and refused: it names its request_id to the client only.
        written = httpx.post(
            f"{server.url}/results",
            json={"request_id": "SECRETBODY"},
            params={"q": "SECRETQUERY"},
            headers=secret_headers,
        )
        wrong_key = httpx.post(f"{server.url}/results", json={}, headers={"Authorization": "Bearer SECRETWRONGKEY"})
        unknown = httpx.get(f"{server.url}/results/SECRETPATH")
        status, stderr = server.stop()
    assert status == 0
    assert (read.status_code, written.status_code, wrong_key.status_code, unknown.status_code) == (200, 422, 401, 404)
    assert "SECRETBODY" in written.text
    assert "SECRET" not in stderr
    assert "token=" not in stderr
    routes = [(line["method"], line["route"], line["status"]) for line in access_lines(stderr)]
    assert routes[-4:] == [
        ("GET", "/results/average", 200),
        ("POST", "/results", 422),
        ("POST", "/results", 401),
        ("GET", "/results/{request_id}", 404),
    ]


def test_an_insane_request_id_is_replaced_in_the_answer_and_the_log(tmp_path: Path) -> None:
    with running_server(settings("json"), tmp_path) as server:
        answered = httpx.get(f"{server.url}/results/average", headers={"X-Request-ID": "two words"})
        status, stderr = server.stop()
    assert status == 0
    given = answered.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(given)
    assert [line["route"] for line in access_lines(stderr) if line["request_id"] == given] == ["/results/average"]
    assert "two words" not in stderr


def test_the_text_format_is_one_line_per_request_with_its_id(tmp_path: Path) -> None:
    with running_server(settings("text"), tmp_path) as server:
        httpx.get(f"{server.url}/results/average", params={"secret": "SECRETQUERY"}, headers={"X-Request-ID": "t-1"})
        status, stderr = server.stop()
    assert status == 0
    # Besides the readiness probes' lines, which carry ids of their own.
    lines = [line for line in stderr.splitlines() if "[t-1]" in line]
    assert len(lines) == 1
    assert re.search(r" INFO superbenchmark\.access \[t-1\] GET /results/average 200 [0-9.]+ ms$", lines[0])
    assert "SECRET" not in stderr
