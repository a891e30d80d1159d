"""`superbenchmark`: the command line for a CI job or a laptop.

    superbenchmark import FILE... [--format F] [--run R] [--model M] [--label k:v]... [--timezone Z]
                                  [--timestamp T] [--server URL] [--key KEY]
    superbenchmark compare --server URL --baseline-label k:v --candidate-label k:v [--fail-on-regression]
                           [--output markdown|json] [--key KEY]
    superbenchmark view FILE... [import options] [--database PATH] [--host H] [--port P] [--open]

`import` posts a tool's files to a running server (with a progress bar), or, without --server,
stores them straight into SUPERBENCHMARK_DATABASE_URL through the same use case the server runs.
`compare` prints a comparison as a Markdown table a pull request can show. `view` (src/entrypoints/view.py)
imports the files into a local SQLite database and serves the dashboard on the run's page. Exit status: 0 done,
1 rejected requests (import) or a regression with --fail-on-regression (compare), 2 a usage,
file or server error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import IO, Any, cast

import httpx
from tqdm import tqdm

from src.application.import_results import ImportReport
from src.application.ports.result_reader import ImportOptions, ToolFile
from src.domain.errors import DomainError, InvalidTimestamp
from src.domain.result_selection import parse_labels
from src.domain.timestamps import parse_timestamp
from src.entrypoints.allocator import tune_memory
from src.entrypoints.import_arguments import add_import_arguments
from src.entrypoints.settings import SettingsError, load_settings
from src.entrypoints.view import add_view_command

KEY_VARIABLE = "SUPERBENCHMARK_API_KEY"
USAGE_ERROR = 2
_TIMEOUT = httpx.Timeout(30.0, read=3600.0)
Params = list[tuple[str, str | int | float | bool | None]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        return int(arguments.command(arguments))
    except (DomainError, SettingsError, OSError) as error:
        print(f"superbenchmark: {error}", file=sys.stderr)
        return USAGE_ERROR
    except httpx.HTTPError as error:
        print(f"superbenchmark: cannot reach the server: {error}", file=sys.stderr)
        return USAGE_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="superbenchmark", description="Keep and question LLM benchmark results.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    importing = commands.add_parser("import", help="import a benchmark tool's files as one run")
    add_import_arguments(importing)
    _add_server(importing, required=False)
    importing.set_defaults(command=_import)

    comparing = commands.add_parser("compare", help="compare a candidate run with a baseline")
    _add_server(comparing, required=True)
    comparing.add_argument("--baseline-label", action="append", default=[], metavar="KEY:VALUE", required=True)
    comparing.add_argument("--candidate-label", action="append", default=[], metavar="KEY:VALUE", required=True)
    comparing.add_argument("--label", action="append", default=[], metavar="KEY:VALUE", help="for both sides")
    comparing.add_argument("--model", help="for both sides")
    comparing.add_argument("--fail-on-regression", action="store_true", help="exit 1 when any metric regressed")
    comparing.add_argument("--output", choices=["markdown", "json"], default="markdown")
    comparing.set_defaults(command=_compare)

    add_view_command(commands)
    return parser


def _add_server(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--server", required=required, help="the service's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", help=f"API key (default: ${KEY_VARIABLE})")


def _import(arguments: argparse.Namespace) -> int:
    labels = parse_labels(arguments.label)
    for file in arguments.files:
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such file")
    report = _import_over_http(arguments) if arguments.server else _import_into_database(arguments, labels)
    _print_report(report)
    return 1 if report["rejected"] else 0


def _import_over_http(arguments: argparse.Namespace) -> dict[str, Any]:
    params: Params = [("format", arguments.format)]
    params += [
        (name, value) for name in ("run", "model", "timezone", "timestamp") if (value := getattr(arguments, name))
    ]
    params += [("label", label) for label in arguments.label]
    total = sum(file.stat().st_size for file in arguments.files)
    with ExitStack() as stack, tqdm(total=total, unit="B", unit_scale=True, desc="upload", disable=None) as bar:
        uploads = [
            ("files", (file.name, cast(IO[bytes], _Counted(stack.enter_context(file.open("rb")), bar))))
            for file in arguments.files
        ]
        response = httpx.post(
            f"{arguments.server.rstrip('/')}/results/import",
            params=httpx.QueryParams(params),
            files=uploads,
            headers=_authorization(arguments.key),
            timeout=_TIMEOUT,
        )
    return _answer(response)


def _import_into_database(arguments: argparse.Namespace, labels: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    # Imported here: the database libraries are only worth their import time without --server.
    from src.entrypoints.container import Container  # noqa: PLC0415 - imported late on purpose, see above
    from src.entrypoints.http.presenters import report_body  # noqa: PLC0415

    settings = load_settings()
    if settings.database_url is None:
        raise SettingsError("SUPERBENCHMARK_DATABASE_URL: set it to the database to import into, or pass --server")
    timestamp = None
    if arguments.timestamp:
        try:
            timestamp = parse_timestamp(arguments.timestamp)
        except InvalidTimestamp as error:
            raise SettingsError(f"--timestamp: {error}") from None
    # The same memory settings as a server's: an import here is the same work.
    tune_memory()
    container = Container()
    container.config.from_pydantic(settings)
    options = ImportOptions(arguments.run, arguments.model, labels, arguments.timezone, timestamp)
    files = [ToolFile(file.name, file) for file in arguments.files]
    report = ImportReport()
    try:
        with tqdm(unit="result", desc="import", disable=None) as bar:
            container.import_results().into(report, files, options, arguments.format, bar.update)
    finally:
        container.result_store().close()
    return report_body(report)


class _Counted:
    """A file read by the HTTP client, counted on a progress bar as it goes."""

    def __init__(self, file: IO[bytes], bar: tqdm[Any]) -> None:
        self._file, self._bar = file, bar

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._bar.update(len(chunk))
        return chunk


def _compare(arguments: argparse.Namespace) -> int:
    params: Params = [("baseline_label", label) for label in arguments.baseline_label]
    params += [("candidate_label", label) for label in arguments.candidate_label]
    params += [("label", label) for label in arguments.label]
    if arguments.model:
        params.append(("model", arguments.model))
    response = httpx.get(
        f"{arguments.server.rstrip('/')}/results/compare",
        params=httpx.QueryParams(params),
        headers=_authorization(arguments.key),
        timeout=_TIMEOUT,
    )
    comparison = _answer(response)
    print(json.dumps(comparison, indent=2) if arguments.output == "json" else markdown_table(comparison))
    regressed = any(entry["verdict"] == "regression" for entry in comparison["metrics"].values())
    return 1 if arguments.fail_on_regression and regressed else 0


def markdown_table(comparison: dict[str, Any]) -> str:
    """A comparison (the body of GET /results/compare) as a GitHub-flavoured Markdown table."""
    baseline, candidate = comparison["baseline"], comparison["candidate"]
    lines = [
        f"Baseline {_side(baseline)}: {baseline['count']} results ({baseline['failed']} failed); "
        f"candidate {_side(candidate)}: {candidate['count']} results ({candidate['failed']} failed).",
        "",
        "| metric | unit | baseline mean | candidate mean | change | p-value | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    marks = {"regression": "🔴 regression", "improvement": "🟢 improvement", "no significant change": "no change"}
    for metric, entry in comparison["metrics"].items():
        before, after = entry["baseline"] or {}, entry["candidate"] or {}
        change = entry["relative_change"]
        means = f"{_number(before.get('mean'))} | {_number(after.get('mean'))}"
        lines.append(
            f"| {metric} | {comparison['units'][metric]} | {means} "
            f"| {'n/a' if change is None else f'{change:+.1%}'} | {_number(entry['p_value'], 3)} "
            f"| {marks.get(entry['verdict'], 'n/a')} |"
        )
    return "\n".join(lines)


def _side(side: dict[str, Any]) -> str:
    labels = ", ".join(f"{key}={value}" for key, value in side["labels"].items())
    return f"({labels})" if labels else "(all results)"


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}"


def _authorization(key: str | None) -> dict[str, str]:
    key = key or os.environ.get(KEY_VARIABLE)
    return {"Authorization": f"Bearer {key}"} if key else {}


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a success; a problem becomes a ServerRefusal naming the server's detail."""
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ServerRefusal(f"the server answered {response.status_code}: {detail}")
    body: dict[str, Any] = response.json()
    return body


class ServerRefusal(DomainError):
    """The server refused the request; the message carries its status and detail."""


def _print_report(report: dict[str, Any]) -> None:
    print(
        f"{'run ' + report['run'] if report['run'] else 'results'} ({report['format']}): "
        f"stored {report['stored']}, already stored "
        f"{report['already_stored']}, rejected {report['rejected']}, failed requests {report['failed']}"
    )
    for warning in report["warnings"]:
        print(f"  warning: {warning}", file=sys.stderr)
    for error in report["errors"]:
        where = f"at {error['position']}" if error["position"] is not None else ""
        print(f"  rejected {where}: {error['field'] or ''} {error['reason']}".rstrip(), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
