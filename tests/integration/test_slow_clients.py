"""Slow and greedy clients: what one client can hold of the real server, over real sockets.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a socket bound to 127.0.0.2 is a
second client address without any network setup.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.entrypoints.connection_limits import ConnectionLimits, limited_protocol
from tests.integration.test_serve import free_port
from tests.support import SEED_FILE, record, serving

KEY = "slow-clients-test-key-0123456789"
# How long a closing must take at most, past its timeout or at once, on a busy machine.
MARGIN = 3.0


SERVE = (sys.executable, "-m", "src.entrypoints.serve")
# Several workers need uvicorn's own command line; it takes the same bounds this way.
UVICORN_WORKERS = (
    *(sys.executable, "-m", "uvicorn", "src.entrypoints.http.app:create_app", "--factory", "--workers", "1"),
    *("--http", "src.entrypoints.connection_limits:from_settings", "--host", "127.0.0.1"),
)


@contextmanager
def server(tmp_path: Path, settings: Mapping[str, object], command: tuple[str, ...] = SERVE) -> Iterator[int]:
    """The real server process in DEBUG mode with these SUPERBENCHMARK_ settings; yields its port."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SUPERBENCHMARK_")}
    environment |= {"PYTHONPATH": str(SEED_FILE.parent), "SUPERBENCHMARK_DEBUG": "true"}
    environment |= {"SUPERBENCHMARK_DATA_FILE": str(SEED_FILE)}
    environment |= {f"SUPERBENCHMARK_{name.upper()}": str(value) for name, value in settings.items()}
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=MARGIN, source_address=(source, 0))


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds`, reading and dropping whatever it answered first."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            # An abort with our bytes still unread arrives as a reset.
            return True
        except TimeoutError:
            return False
    return False


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer with a Content-Length, however the server's writes arrive."""
    answer = b""
    while True:
        head, end_of_head, body = answer.partition(b"\r\n\r\n")
        if end_of_head:
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            assert length is not None, answer
            if len(body) >= int(length[1]):
                return answer
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole answer: {answer!r}"
        answer += chunk


def any_closed(sockets: list[socket.socket]) -> bool:
    readable, _, _ = select.select(sockets, [], [], 0)
    return bool(readable)


def status_of(port: int, source: str = "127.0.0.1") -> int | None:
    """GET /results/average from `source`: its status, or None when the server closed the connection."""
    with connect(port, source) as sock:
        try:
            sock.sendall(b"GET /results/average HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError):
            return None
    return int(answer.split(b" ", 2)[1]) if answer else None


def eventually_ok(port: int, source: str) -> None:
    # A connection the server closed frees its place a moment after the client sees it closed.
    deadline = time.monotonic() + MARGIN
    while (status := status_of(port, source)) != 200:
        assert time.monotonic() < deadline, f"still {status}"
        time.sleep(0.05)


PARTIAL_HEADERS = b"GET /results/average HTTP/1.1\r\nHost: test\r\nUser-Agent: sl"


def test_partial_headers_from_one_address_neither_hold_the_server_nor_stay(tmp_path: Path) -> None:
    header_timeout = 3.0
    limits = {"header_timeout_seconds": header_timeout, "max_connections_per_client": 20, "max_connections": 60}
    with server(tmp_path, limits) as port, ExitStack() as stack:
        partial: list[tuple[socket.socket, float]] = []
        for _ in range(20):
            sock = stack.enter_context(connect(port, "127.0.0.2"))
            partial.append((sock, time.monotonic()))
            sock.sendall(PARTIAL_HEADERS)

        # Past the cap, a connection is closed before the header timeout could have run.
        for _ in range(5):
            extra = stack.enter_context(connect(port, "127.0.0.2"))
            assert closed_within(extra, 1.0)

        began = time.monotonic()
        assert httpx.get(f"http://127.0.0.1:{port}/results/average", timeout=MARGIN).status_code == 200
        assert time.monotonic() - began < 1.0
        assert time.monotonic() - partial[0][1] < header_timeout, "too slow a machine to tell anything"
        assert not any_closed([sock for sock, _ in partial])

        for sock, connected in partial:
            assert closed_within(sock, connected + header_timeout + MARGIN - time.monotonic())
            # The server's clock starts when it accepts, after the client's connect returned.
            assert time.monotonic() - connected >= header_timeout - 0.05

        eventually_ok(port, "127.0.0.2")


def test_the_total_cap_refuses_everyone_until_a_connection_closes(tmp_path: Path) -> None:
    # No cap per client, so that one address can reach the total cap.
    limits = {"header_timeout_seconds": 30, "max_connections_per_client": 0, "max_connections": 30}
    with server(tmp_path, limits) as port, ExitStack() as stack:
        held = [stack.enter_context(connect(port, "127.0.0.2")) for _ in range(30)]
        late = stack.enter_context(connect(port, "127.0.0.3"))
        assert closed_within(late, 1.0)
        # The server accepts in order: all 30 were decided before `late` was refused.
        assert not any_closed(held)
        assert status_of(port) is None

        held.pop().close()
        eventually_ok(port, "127.0.0.1")


def test_uvicorns_command_line_takes_the_same_bounds(tmp_path: Path) -> None:
    header_timeout = 2.0
    limits = {"header_timeout_seconds": header_timeout, "max_connections_per_client": 2}
    with server(tmp_path, limits, UVICORN_WORKERS) as port, connect(port, "127.0.0.2") as first:
        first.sendall(PARTIAL_HEADERS)
        connected = time.monotonic()
        with connect(port, "127.0.0.2") as second, connect(port, "127.0.0.2") as third:
            assert closed_within(third, 1.0)
            assert not any_closed([first, second])
        assert closed_within(first, header_timeout + MARGIN)
        assert time.monotonic() - connected >= header_timeout - 0.05


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A server with one-second timeouts and a key, so that POST /results reads its body (then says 405)."""
    limits = {
        "header_timeout_seconds": 1,
        "body_idle_timeout_seconds": 1,
        "max_connections_per_client": 20,
        "max_connections": 60,
        "api_keys": KEY,
    }
    with server(tmp_path_factory.mktemp("quick"), limits) as port:
        yield port


def post_headers(length: int) -> bytes:
    return (
        f"POST /results HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_keep_alive_connection_has_the_header_timeout_from_its_last_answer(quick: int) -> None:
    with connect(quick) as sock:
        sock.sendall(b"GET /results/average HTTP/1.1\r\nHost: test\r\n\r\n")
        assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
        answered = time.monotonic()
        # Bytes of the next request stop uvicorn's own keep-alive timeout; only ours can end this.
        sock.sendall(PARTIAL_HEADERS)
        assert closed_within(sock, 1 + MARGIN)
        assert time.monotonic() - answered >= 1 - 0.05


def test_the_body_idle_timeout_cuts_a_stalled_body_and_not_a_slow_one(quick: int) -> None:
    body = json.dumps(record("slow-1", "2024-06-01T12:00:00")).encode()
    chunks = [body[i : i + len(body) // 10 + 1] for i in range(0, len(body), len(body) // 10 + 1)]
    with connect(quick) as slow, connect(quick) as stalled:
        stalled.sendall(post_headers(1000) + b'{"request_id": ')
        stalled_at = time.monotonic()
        slow.sendall(post_headers(len(body)))
        stalled_closed_after = None
        # A chunk every 0.3 s for about 3 s: three times the idle timeout in all, never idle for it.
        for chunk in chunks:
            if stalled_closed_after is None and closed_within(stalled, 0.3):
                stalled_closed_after = time.monotonic() - stalled_at
            elif stalled_closed_after is not None:
                time.sleep(0.3)
            slow.sendall(chunk)
        slow.settimeout(MARGIN)
        answer = read_answer(slow)
        if stalled_closed_after is None:
            assert closed_within(stalled, MARGIN)
            stalled_closed_after = time.monotonic() - stalled_at
    assert answer.startswith(b"HTTP/1.1 405 "), answer
    assert b"read-only-store" in answer
    assert 1 - 0.05 <= stalled_closed_after <= 1 + MARGIN


def counting_app(first_read_after: float, between_reads: float) -> Any:
    """An ASGI app that answers the size of the body, and is slow to read it: it waits before each read."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(first_read_after)
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
            if more:
                await asyncio.sleep(between_reads)
        answer = str(size).encode()
        headers = [(b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


@contextmanager
def serving_in_process(app: Any, body_idle_timeout: float) -> Iterator[int]:
    limits = ConnectionLimits(
        header_timeout=5, body_idle_timeout=body_idle_timeout, max_connections=10, max_connections_per_client=10
    )
    with serving(app, http=limited_protocol(limits), ws="none") as base_url:
        port = httpx.URL(base_url).port
        assert port is not None
        yield port


def test_a_body_the_app_reads_slowly_is_not_cut() -> None:
    # The app waits longer between reads than the idle timeout while the client sends as fast as it
    # can: the client waits on the server's flow control, which is not idleness.
    body = b"x" * (512 * 1024)
    app = counting_app(0, between_reads=0.6)
    with serving_in_process(app, body_idle_timeout=0.5) as port, connect(port) as sock, connect(port) as stalled:
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nxx")
        request = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(body)
        sending = threading.Thread(target=sock.sendall, args=(request + body,))
        began = time.monotonic()
        sending.start()
        # The same server does cut a client that stops.
        assert closed_within(stalled, 0.5 + MARGIN)
        sock.settimeout(30)
        answer = read_answer(sock)
        sending.join()
    assert answer.endswith(b"\r\n\r\n%d" % len(body)), answer
    # Several of the app's waits, each longer than the idle timeout, passed during the upload.
    assert time.monotonic() - began > 2 * 0.5


def test_a_client_waiting_for_100_continue_is_not_idle() -> None:
    # curl sends Expect: 100-continue with large uploads and holds the body until the app asks for it.
    with serving_in_process(counting_app(1.5, between_reads=0), body_idle_timeout=0.5) as port, connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        sock.settimeout(1.5 + MARGIN)
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"\r\n\r\n5")
