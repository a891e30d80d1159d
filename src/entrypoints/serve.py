"""`python -m src.entrypoints.serve`: start the HTTP server, or exit with one line saying why not.

`--workers N` serves with N processes sharing one listening socket. On SIGTERM (or Ctrl-C) the
server stops accepting connections, lets the requests in flight finish for up to
SUPERBENCHMARK_SHUTDOWN_GRACE_SECONDS, cancels those still running, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from src.adapters.json_store.result_file import ResultFileError
from src.domain.errors import StoreUnavailable
from src.entrypoints.allocator import tune_memory
from src.entrypoints.connection_limits import ConnectionLimits, limited_protocol
from src.entrypoints.http.app import create_app
from src.entrypoints.logs import log_config
from src.entrypoints.metrics import MULTIPROCESS_DIRECTORY
from src.entrypoints.settings import Settings, SettingsError, load_settings

# With several workers each process builds its own app, and its own connection bounds, from the settings.
APP_FACTORY = "src.entrypoints.serve:worker_app"
PROTOCOL_FACTORY = "src.entrypoints.connection_limits:from_settings"
# uvicorn's exit code for a server, or a worker, that failed before serving (a port in use).
STARTUP_FAILURE = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the SuperBenchmark API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=_at_least_one, default=1, help="worker processes (default 1)")
    parser.add_argument("--log-level", default="info")
    arguments = parser.parse_args(argv)
    tune_memory()
    try:
        settings = load_settings()
        # Built here even for several workers, each of which builds its own: bad settings or data
        # stop startup with one line, before any worker starts.
        app = create_app(settings)
    except (SettingsError, ResultFileError, StoreUnavailable) as error:
        print(f"superbenchmark: cannot start: {error}", file=sys.stderr)
        return 1
    if arguments.workers == 1:
        http = limited_protocol(ConnectionLimits.from_settings(settings))
        server = uvicorn.Server(_config(app, http, 1, settings, arguments))
        # uvicorn stops gracefully on SIGTERM, then raises the signal again for the handler it found
        # before: by default that kills the process (status 143) after a clean stop.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        # Ctrl-C is raised again the same way, as KeyboardInterrupt: a stop asked for, too.
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        _stopping()
        return 0 if server.started else STARTUP_FAILURE
    # Its connections, if any, are the parent's; each worker opens its own.
    asyncio.run(app.state.container.result_store().aclose())
    return _serve_with_workers(_config(APP_FACTORY, PROTOCOL_FACTORY, arguments.workers, settings, arguments))


def worker_app() -> Any:
    """The app of one worker process (uvicorn calls this in each), its allocator and garbage
    collector tuned as the single-process server's are."""
    tune_memory()
    return create_app()


def _config(app: Any, http: Any, workers: int, settings: Settings, arguments: argparse.Namespace) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        host=arguments.host,
        port=arguments.port,
        http=http,
        ws="none",
        log_config=log_config(settings.log_format, arguments.log_level),
        log_level=arguments.log_level,
        # Our own access line names the route's template; uvicorn's would log the path and query string.
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def _serve_with_workers(config: uvicorn.Config) -> int:
    # The workers keep their metrics in files there (prometheus-client's multiprocess mode), which
    # must be empty at start: files of an earlier run would add its counts to this one's. It is set
    # before the workers start because prometheus-client reads it when it is imported.
    directory = tempfile.mkdtemp(prefix="superbenchmark-metrics-")
    os.environ[MULTIPROCESS_DIRECTORY] = directory
    try:
        supervisor = _Workers(config, sockets=[config.bind_socket()])
        supervisor.run()
        _stopping()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        print("superbenchmark: cannot start: a worker failed to start; the log above says why", file=sys.stderr)
        return STARTUP_FAILURE
    return 0


class _Workers(Multiprocess):
    """uvicorn's supervisor of worker processes, closing its own copy of the listening socket
    before it stops them: otherwise the kernel would go on accepting connections that no worker
    serves any more, for as long as the last worker takes to finish its requests."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def _exit_cleanly(_signal: int, _frame: FrameType | None) -> None:
    _stopping()
    raise SystemExit(0)


def _stopping() -> None:
    """Once the server has stopped, a further SIGTERM (a supervisor asking again) is ignored: while
    Python exits it restores the default action for signals that have Python handlers, and that
    would turn a clean stop into status 143. An ignored signal stays ignored."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
