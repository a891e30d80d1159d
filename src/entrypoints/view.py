"""`superbenchmark view FILE...`: a tool's files in the browser, with nothing to set up.

The files (any format the importers read, as one run, as `superbenchmark import` takes them) are
imported into a SQLite database kept in the user's data directory
(`$XDG_DATA_HOME/superbenchmark/view.db`, `~/.local/share/superbenchmark/view.db` without it), so
runs viewed before stay there to compare with. Then the dashboard is served from this process and
the run's page is printed (and opened with --open). Importing the same file again stores nothing
twice. Ctrl-C stops the server.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn
from tqdm import tqdm

from src.application.import_results import ImportReport
from src.application.ports.result_reader import ImportOptions, ToolFile
from src.domain.errors import InvalidTimestamp
from src.domain.result_selection import parse_labels
from src.domain.timestamps import parse_timestamp
from src.entrypoints.import_arguments import add_import_arguments
from src.entrypoints.settings import Settings, SettingsError, load_settings

DATABASE_NAME = "view.db"
DEFAULT_PORT = 8000


def add_view_command(commands: Any) -> None:
    """Add `view` to the command line's subcommands (an argparse `add_subparsers` result)."""
    viewing = commands.add_parser("view", help="import a tool's files and show the run in the browser")
    add_import_arguments(viewing)
    viewing.add_argument("--database", type=Path, help=f"the SQLite file (default: {default_database()})")
    viewing.add_argument("--host", default="127.0.0.1", help="where to listen (default 127.0.0.1)")
    viewing.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (default 8000)")
    viewing.add_argument("--open", action="store_true", help="open the run's page in the web browser")
    viewing.set_defaults(command=view)


def default_database() -> Path:
    """The view database in the user's data directory (XDG base directories)."""
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(data_home) if data_home and Path(data_home).is_absolute() else Path.home() / ".local" / "share"
    return base / "superbenchmark" / DATABASE_NAME


def view(arguments: argparse.Namespace) -> int:
    """Import, serve and print the run's page; returns the exit status once the server stops."""
    # Imported here: the database libraries and the app are only worth their import time for `view`.
    from src.adapters.sql_store.database import connect, database_url, migrate  # noqa: PLC0415
    from src.entrypoints.connection_limits import ConnectionLimits, limited_protocol  # noqa: PLC0415
    from src.entrypoints.container import Container  # noqa: PLC0415
    from src.entrypoints.http.app import create_app  # noqa: PLC0415

    labels = parse_labels(arguments.label)
    for file in arguments.files:
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such file")
    timestamp = None
    if arguments.timestamp:
        try:
            timestamp = parse_timestamp(arguments.timestamp)
        except InvalidTimestamp as error:
            raise SettingsError(f"--timestamp: {error}") from None
    listener = _listen(arguments.host, arguments.port)

    database = (arguments.database or default_database()).expanduser().resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{database}"
    engine = connect(database_url(url), pool_size=1)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    load_settings()  # the environment's settings are checked as the server's are
    # The viewer's own SQLite file, whatever database (and read replica) the environment names for the server.
    settings = Settings(debug=False, database_url=url, read_database_url=None)
    container = Container()
    container.config.from_pydantic(settings)
    report = ImportReport()
    options = ImportOptions(arguments.run, arguments.model, labels, arguments.timezone, timestamp)
    with tqdm(unit="result", desc="import", disable=None) as bar:
        container.import_results().into(
            report, [ToolFile(file.name, file) for file in arguments.files], options, arguments.format, bar.update
        )
    print(
        f"run {report.run} ({report.file_format}): stored {report.stored}, already stored {report.already_stored}, "
        f"rejected {report.rejected}, failed requests {report.failed}; kept in {database}"
    )
    for warning in report.warnings:
        print(f"  warning: {warning}", file=sys.stderr)

    host, port = listener.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    page = f"http://{shown_host}:{port}/#/run?run={quote(report.run or '', safe='')}"
    print(f"dashboard: http://{shown_host}:{port}/")
    print(f"this run: {page}", flush=True)
    if arguments.open:
        webbrowser.open(page)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, container),
            log_level="warning",
            http=limited_protocol(ConnectionLimits.from_settings(settings)),
            ws="none",
        )
    )
    try:
        server.run(sockets=[listener])
    finally:
        container.result_store().close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before any work, so a busy port is said at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(f"port {port} on {host} is in use: pass --port N (0 picks a free one)") from None
        raise
    listener.listen(128)
    return listener
