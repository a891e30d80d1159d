"""The server process: it serves good data, and bad data or settings never start it."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import SEED_FILE, record, write_result_file

ROOT = SEED_FILE.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(environment: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SUPERBENCHMARK_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "src.entrypoints.serve", "--port", str(port), "--log-level", "warning"],
        env=env | environment,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def refusal(environment: dict[str, str], cwd: Path) -> str:
    process = start(environment, free_port(), cwd)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = start({"SUPERBENCHMARK_DEBUG": "true", "SUPERBENCHMARK_DATA_FILE": str(SEED_FILE)}, port, tmp_path)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/results/average")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_server_serves_the_data_file(served: str) -> None:
    assert httpx.get(f"{served}/results/average").json()["count"] == 5


def test_a_missing_data_file_does_not_start_the_server(tmp_path: Path) -> None:
    line = refusal({"SUPERBENCHMARK_DEBUG": "true", "SUPERBENCHMARK_DATA_FILE": "absent.json"}, tmp_path)
    assert line == "superbenchmark: cannot start: absent.json: cannot read the file: No such file or directory"


def test_an_invalid_record_does_not_start_the_server(tmp_path: Path) -> None:
    bad = record("r-2", "2024-06-01T12:00:00", time_to_first_token=-1)
    path = write_result_file(tmp_path / "results.json", [record("r-1", "2024-06-01T11:00:00"), bad])
    line = refusal({"SUPERBENCHMARK_DEBUG": "true", "SUPERBENCHMARK_DATA_FILE": str(path)}, tmp_path)
    assert line.startswith(f"superbenchmark: cannot start: {path}: result at index 1 request_id 'r-2': ")
    assert "time_to_first_token must be between 0 and" in line


def test_a_duplicate_request_id_does_not_start_the_server(tmp_path: Path) -> None:
    path = write_result_file(tmp_path / "results.json", [record("same", "2024-06-01T12:00:00")] * 2)
    line = refusal({"SUPERBENCHMARK_DEBUG": "1", "SUPERBENCHMARK_DATA_FILE": str(path)}, tmp_path)
    assert line.endswith("request_id 'same' appears twice, at index 0 and at index 1")


def test_a_file_that_is_not_json_does_not_start_the_server(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("benchmarking_results: []")
    line = refusal({"SUPERBENCHMARK_DEBUG": "yes", "SUPERBENCHMARK_DATA_FILE": str(path)}, tmp_path)
    assert line.startswith(f"superbenchmark: cannot start: {path}: not valid JSON: ")


def test_a_bad_debug_value_does_not_start_the_server(tmp_path: Path) -> None:
    line = refusal({"SUPERBENCHMARK_DEBUG": "sometimes"}, tmp_path)
    assert line.startswith("superbenchmark: cannot start: SUPERBENCHMARK_DEBUG: expected true/false/1/0/yes/no")


def test_a_database_behind_the_code_does_not_start_the_server(tmp_path: Path) -> None:
    line = refusal({"SUPERBENCHMARK_DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.db'}"}, tmp_path)
    assert line == (
        "superbenchmark: cannot start: database unavailable: its schema is at revision none (never migrated), "
        "this version needs 0007: run `make migrate` against it"
    )


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SUPERBENCHMARK_DATABASE_URL", "mysql://root@localhost/x", "expected postgresql://... or sqlite:///path"),
        ("SUPERBENCHMARK_API_KEYS", "short", "every key needs at least 16 characters"),
        ("SUPERBENCHMARK_MAX_BODY_BYTES", "0", "must be at least 1"),
        ("SUPERBENCHMARK_READ_REQUIRES_KEY", "perhaps", "expected true/false/1/0/yes/no"),
    ],
)
def test_a_bad_production_setting_does_not_start_the_server(tmp_path: Path, name: str, value: str, reason: str) -> None:
    line = refusal({name: value}, tmp_path)
    assert line.startswith(f"superbenchmark: cannot start: {name}: ")
    assert reason in line


def test_a_read_replica_of_no_postgresql_primary_does_not_start_the_server(tmp_path: Path) -> None:
    environment = {
        "SUPERBENCHMARK_DATABASE_URL": f"sqlite:///{tmp_path / 'results.db'}",
        "SUPERBENCHMARK_READ_DATABASE_URL": "postgresql://reader@127.0.0.1:5433/results",
    }
    assert refusal(environment, tmp_path) == (
        "superbenchmark: cannot start: SUPERBENCHMARK_READ_DATABASE_URL: "
        "a read replica needs a PostgreSQL primary in SUPERBENCHMARK_DATABASE_URL, which is not PostgreSQL"
    )


def test_the_test_suite_settings_do_not_stop_the_server(tmp_path: Path) -> None:
    # They are the tests' own; a server sharing their environment must not take them for typos.
    environment = {
        "SUPERBENCHMARK_REQUIRE_POSTGRES": "1",
        "SUPERBENCHMARK_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
        "SUPERBENCHMARK_DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.db'}",
    }
    assert "schema is at revision none" in refusal(environment, tmp_path)
