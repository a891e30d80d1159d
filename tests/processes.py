"""The server as a real process (`python -m src.entrypoints.serve`): started on a free port, waited for, stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import SEED_FILE

ROOT = SEED_FILE.parent
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        """SIGTERM, then the exit status and everything the process wrote to stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr


def start_server(environment: dict[str, str], cwd: Path, *arguments: str) -> Server:
    """A server process with only these SUPERBENCHMARK_ settings (and the rest of the tests' environment)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SUPERBENCHMARK_")}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "src.entrypoints.serve", "--port", str(port), *arguments],
        env=env | environment,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Server(process, port)


def wait_until_ready(server: Server, path: str = "/healthz") -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(server.url + path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited at startup: {server.process.communicate()[1]}")
        if time.monotonic() > deadline:
            raise AssertionError("the server did not become ready")
        time.sleep(0.05)


@contextmanager
def running_server(environment: dict[str, str], cwd: Path, *arguments: str) -> Iterator[Server]:
    """A ready server; stopped (SIGTERM) when the block ends, if the block has not stopped it."""
    server = start_server(environment, cwd, *arguments)
    try:
        wait_until_ready(server)
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate(timeout=30)
