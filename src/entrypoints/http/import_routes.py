"""POST /results/import: a benchmark tool's files, exactly as the tool wrote them, imported as one run."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncGenerator
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from src.application.import_results import AUTO, ImportReport, ImportResults
from src.application.ports.result_reader import ImportOptions, ToolFile
from src.domain.errors import StoreUnavailable
from src.entrypoints.http.access import Access
from src.entrypoints.http.parameters import instant, labels
from src.entrypoints.http.presenters import json_response, report_body
from src.entrypoints.http.problems import HttpProblem, documented_problems
from src.entrypoints.http.schemas import ImportReportBody
from src.entrypoints.metrics import Metrics

NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-seq")
MULTIPART = "multipart/form-data"
# A run's files: llmperf writes two, AIPerf two; a few more leave room without inviting abuse.
MAX_FILES = 8
_CHUNK = 1 << 20


def add_import_routes(
    app: FastAPI, *, access: Access, import_results: ImportResults, max_import_bytes: int, metrics: Metrics
) -> None:
    formats = (AUTO, *import_results.formats)

    @app.post(
        "/results/import",
        tags=["results"],
        summary="Import a benchmark tool's result files as one run",
        description=(
            "The body is a tool's file exactly as written (any content type), or several files of one run as "
            f"{MULTIPART}. `format=auto` detects the format from the content; NDJSON content types without "
            f"`format` mean seed-format lines. Formats: {', '.join(formats)}."
        ),
        response_model=ImportReportBody,
        responses=documented_problems(401, 403, 405, 413, 422, 503),
        dependencies=access.writers(),
        openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {}}}}},
    )
    async def import_files(
        request: Request,
        *,
        file_format: str = Query(AUTO, alias="format", description=f"One of {', '.join(formats)}."),
        run: Annotated[
            str | None, Query(min_length=1, max_length=1024, description="The run's name; default: the file's.")
        ] = None,
        model: Annotated[
            str | None, Query(min_length=1, max_length=256, description="The model, for files that name none.")
        ] = None,
        label: Annotated[list[str], Query(description="key:value, repeatable; added to every result.")] = [],  # noqa: B006 - FastAPI's form of a repeatable parameter
        timezone: Annotated[
            str | None, Query(description="IANA zone of a file's naive local clock (vLLM's date); default UTC.")
        ] = None,
        timestamp: Annotated[
            str | None, Query(description="ISO 8601 instant of a run whose files have no clock.")
        ] = None,
        filename: Annotated[
            str | None, Query(max_length=1024, description="The file's name, when the body is one file.")
        ] = None,
    ) -> Response:
        options = ImportOptions(
            run=run,
            model=model,
            labels=labels(label),
            timezone=timezone,
            timestamp=instant("timestamp", timestamp),
        )
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if file_format == AUTO and media_type in NDJSON_TYPES:
            file_format = "ndjson"
        report = ImportReport()
        with tempfile.TemporaryDirectory(prefix="superbenchmark-import-") as directory:
            files = await _received(request, media_type, Path(directory), max_import_bytes, filename or "")
            try:
                await run_in_threadpool(import_results.into, report, files, options, file_format)
            except StoreUnavailable as stopped:
                if not (report.stored or report.already_stored or report.rejected):
                    raise
                raise interrupted(stopped, report_body(report)) from None
            finally:
                # What was committed counts, whether the import ended or stopped on the way.
                count_import(metrics, report, file_format)
        return json_response(report_body(report))


def count_import(metrics: Metrics, report: ImportReport, requested_format: str) -> None:
    # A format's name only: some add their file's generation (`guidellm v0.x`), which would
    # make a label per tool release.
    file_format = (report.file_format or requested_format).partition(" ")[0]
    counts = {
        "stored": report.stored,
        "already_stored": report.already_stored,
        "rejected": report.rejected,
        "failed": report.failed,
    }
    metrics.count_import(file_format, counts)


def interrupted(stopped: StoreUnavailable, done: dict[str, Any]) -> HttpProblem:
    """The 503 that stopped an import, carrying what its committed batches did (`done`)."""
    return HttpProblem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "database-unavailable",
        "Database unavailable",
        f"{stopped}; the import stopped there, after storing {done['stored']} result(s) (listed under `done`); "
        "sending it again stores the rest",
        extensions={"done": done},
    )


async def _received(request: Request, media_type: str, directory: Path, limit: int, name: str) -> list[ToolFile]:
    """The body's files, written to `directory`: readers stream from disk, so an import of any
    size holds little memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    if media_type == MULTIPART:
        return await _received_parts(request, directory)
    path, size = directory / "body", 0
    with path.open("wb") as body:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            body.write(chunk)
    return [ToolFile(Path(name).name, path)]


async def _received_parts(request: Request, directory: Path) -> list[ToolFile]:
    """A multipart body's file parts, written to `directory`. Raises HttpProblem 422
    invalid-multipart for a malformed body, more than MAX_FILES parts, a body without a file
    part, or one cut off before its closing boundary (RFC 2046, 5.1.1): the parser drops a part
    cut off silently, and the import would go on with the files before it."""
    ending = _closing_delimiter(request.headers.get("content-type", ""))
    tail = bytearray()

    async def body() -> AsyncGenerator[bytes, None]:
        async for chunk in request.stream():
            # What the body ends with: the closing delimiter, then at most a short epilogue.
            tail[:] = (bytes(tail[-_TAIL_BYTES:]) + chunk)[-_TAIL_BYTES:]
            yield chunk

    try:
        form = await MultiPartParser(request.headers, body(), max_files=MAX_FILES, max_fields=MAX_FILES).parse()
    # Starlette turns a malformed or oversized multipart body into its own 400.
    except (MultiPartException, HTTPException) as error:
        reason = error.message if isinstance(error, MultiPartException) else error.detail
        raise _invalid_multipart(reason) from None
    try:
        uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if ending is None or ending not in tail:
            raise _invalid_multipart("the multipart body ends before its closing boundary: cut off")
        if not uploads:
            raise _invalid_multipart("the multipart body holds no file part")
        files = []
        for index, upload in enumerate(uploads):
            name = Path(upload.filename or "").name
            # The name is the user's, so it is never part of a path here (NUL, length, separators).
            path = directory / str(index)
            await run_in_threadpool(_copy, upload, path)
            files.append(ToolFile(name, path))
        return files
    finally:
        await form.close()


_TAIL_BYTES = 4096
"""How much of a multipart body's end is kept to find its closing delimiter (a boundary holds at
most 70 characters; an epilogue after it is allowed, and rare)."""


def _closing_delimiter(content_type: str) -> bytes | None:
    """The closing delimiter of a multipart body of this content type with the line break before
    it (`CRLF--boundary--`, RFC 2046 5.1.1: a part's content cut off after the delimiter's text
    alone is no end), or None without a boundary."""
    _, parameters = parse_options_header(content_type)
    boundary = parameters.get(b"boundary")
    return None if not boundary else b"\r\n--" + boundary + b"--"


def _invalid_multipart(reason: str) -> HttpProblem:
    return HttpProblem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid-multipart",
        "Invalid multipart body",
        f"{reason} (a run's files, at most {MAX_FILES}, each a form part named files)",
    )


def _copy(upload: UploadFile, path: Path) -> None:
    with path.open("wb") as target:
        shutil.copyfileobj(upload.file, target, _CHUNK)


def _too_large(limit: int) -> HttpProblem:
    return HttpProblem(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        f"the import exceeds {limit} bytes (SUPERBENCHMARK_MAX_IMPORT_BYTES); split the run's files",
    )
