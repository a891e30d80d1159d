"""The command line's description of an import, shared by `superbenchmark import` and `view`."""

from __future__ import annotations

import argparse
from pathlib import Path

from src.application.import_results import AUTO


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """The files of one run and what the user says about it (the import route's query parameters)."""
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--format", default=AUTO, help="the files' format (default: detected)")
    parser.add_argument("--run", help="the run's name (default: the first file's)")
    parser.add_argument("--model", help="the model, for files that name none")
    parser.add_argument("--label", action="append", default=[], metavar="KEY:VALUE", help="repeatable")
    parser.add_argument("--timezone", help="IANA zone of a naive local clock in the files (default UTC)")
    parser.add_argument("--timestamp", help="ISO 8601 instant of a run whose files have no clock")
