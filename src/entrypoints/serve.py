"""`python -m src.entrypoints.serve`: start the HTTP server, or exit with one line saying why not."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from src.adapters.json_store.result_file import ResultFileError
from src.domain.errors import StoreUnavailable
from src.entrypoints.connection_limits import ConnectionLimits, limited_protocol
from src.entrypoints.http.app import create_app
from src.entrypoints.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the SuperBenchmark API (one worker).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings()
        app = create_app(settings)
    except (SettingsError, ResultFileError, StoreUnavailable) as error:
        print(f"superbenchmark: cannot start: {error}", file=sys.stderr)
        return 1
    uvicorn.run(
        app,
        host=arguments.host,
        port=arguments.port,
        log_level=arguments.log_level,
        http=limited_protocol(ConnectionLimits.from_settings(settings)),
        ws="none",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
