"""SIGTERM to a real server process: it stops accepting connections, lets the request in flight
finish (a slow import), and exits 0; a request still running when the grace ends is cut, and the
client resumes by sending it again, which stores nothing twice."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.databases import scratch_database
from tests.processes import Server, running_server
from tests.support import record

KEY = "shutdown-key-0123456789"
LINES = 40
GENEROUS_SECONDS = 60


def import_body(count: int = LINES) -> bytes:
    lines = [record(f"s-{index:04d}", f"2024-06-01T00:{index // 60:02d}:{index % 60:02d}Z") for index in range(count)]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def received(connection: socket.socket, marker: bytes | None = None) -> bytes:
    """What the connection sends until `marker` has arrived, or until it closes (marker None)."""
    data = b""
    while marker is None or marker not in data:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def import_in_flight(server: Server, length: int) -> socket.socket:
    """A POST /results/import whose handler has started reading its body: it asked for it (100 Continue)."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=GENEROUS_SECONDS)
    connection.sendall(
        b"POST /results/import HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    assert received(connection, b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue\r\n")
    return connection


def refuses_connections(server: Server) -> bool:
    """Whether new connections are refused, waiting for it up to GENEROUS_SECONDS."""
    deadline = time.monotonic() + GENEROUS_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def settings(url: str) -> dict[str, str]:
    return {"SUPERBENCHMARK_DATABASE_URL": url, "SUPERBENCHMARK_API_KEYS": KEY, "SUPERBENCHMARK_IMPORT_BATCH_ROWS": "7"}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_lets_the_import_in_flight_finish_refuses_new_connections_and_exits_0(
    tmp_path: Path, workers: str
) -> None:
    body = import_body()
    with (
        scratch_database("sqlite", tmp_path) as url,
        running_server(settings(url), tmp_path, "--workers", workers) as server,
    ):
        connection = import_in_flight(server, len(body))
        server.process.terminate()
        assert refuses_connections(server)
        # The rest of the body, slowly: the server still reads it.
        for start in range(0, len(body), len(body) // 8):
            connection.sendall(body[start : start + len(body) // 8])
            time.sleep(0.05)
        answer = received(connection)
        status, stderr = server.stop(GENEROUS_SECONDS)
    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert b"\r\nconnection: close" in head.lower()
    assert json.loads(content)["stored"] == LINES
    assert status == 0, stderr
    assert "Traceback" not in stderr


def test_a_request_still_running_when_the_grace_ends_is_cut_and_sending_it_again_stores_it_once(
    tmp_path: Path,
) -> None:
    body = import_body()
    with scratch_database("sqlite", tmp_path) as url:
        environment = settings(url) | {"SUPERBENCHMARK_SHUTDOWN_GRACE_SECONDS": "1"}
        with running_server(environment, tmp_path) as server:
            connection = import_in_flight(server, len(body))
            connection.sendall(body[: len(body) // 2])
            server.process.terminate()
            # The client sends no more: the server gives up on it after the grace and exits.
            status, stderr = server.stop(GENEROUS_SECONDS)
            answer = received(connection)
        assert status == 0, stderr
        assert "timeout graceful shutdown exceeded" in stderr
        # uvicorn's own answer to a request it cancelled before it was answered.
        assert answer.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
        with running_server(environment, tmp_path) as server:
            headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/x-ndjson"}
            first = httpx.post(f"{server.url}/results/import", content=body, headers=headers).json()
            again = httpx.post(f"{server.url}/results/import", content=body, headers=headers).json()
            count = httpx.get(f"{server.url}/results/average").json()["count"]
            server.stop(GENEROUS_SECONDS)
    assert (first["stored"], again["stored"], again["already_stored"], count) == (LINES, 0, LINES, LINES)
