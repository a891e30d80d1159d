"""sglang's serving benchmark results (`python -m sglang.bench_serving --output-file X.jsonl
--output-details`): one JSON line per run, appended, with Python's `Infinity` for an unbounded
request rate. Each request of the per-request arrays becomes a result."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from src.adapters.importers.run_context import RunContext, default_run_name, only_file
from src.adapters.importers.serve_arrays import RunObjects, has_request_arrays, request_count, run_names, serve_request
from src.application.ports.result_reader import ImportOptions, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.errors import InvalidResult, MissingImportOption, UnreadableFile

TOOL = "sglang"
# Each run's line opens with its backend, as bench_serving builds the dict.
_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"backend"\s*:\s*"')
# The backend whose output_lens are the server's count; the others may write the requested
# length when no usage arrives (sglang #10746).
SERVER_COUNTED_BACKEND = "sglang"
EXPECTED = "expected an sglang bench_serving run: a JSON object per line, opening with its backend"
SETTINGS = ("backend", "dataset_name", "request_rate", "max_concurrency", "sharegpt_output_len")
_RANDOM_SETTING = re.compile(r"\Arandom_\w+\Z")


class SglangReader(ResultReader):
    """`bench_serving` JSON-lines files written with --output-details.

    The file has no clock: every request is stamped with `options.timestamp`. e2e is
    ttft + sum(itls); TPOT is derived from it. Positions count requests across the file; ids are
    `{run}#{i}`, i counting within the run, a run being `{run}` alone or `{run}-{k}` among several.
    """

    format = "sglang"

    def recognizes(self, head: bytes, name: str) -> bool:
        return _HEAD.match(head) is not None

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        file = only_file(files, self.format)
        objects = RunObjects(file, self.format, EXPECTED, lenient=True)
        backends = [_backend(line, run) for line, run in objects]
        if options.timestamp is None:
            raise MissingImportOption(
                "timestamp", "sglang's bench_serving records no time of day: give the instant the run ended"
            )
        base = options.run or default_run_name(files, self.format)
        names = run_names(base, len(backends))
        warnings = [
            f"every request is stamped with the given timestamp {options.timestamp.isoformat()}: "
            "the file records no time, so the timestamps are per run, not per request",
            "end-to-end times are ttft + sum(itls), approximate: sglang's own latency also runs to the final [DONE]",
        ]
        prefixes = [f"run {name}: " if len(names) > 1 else "" for name in names]
        warnings += [
            f"{prefix}token counts may be the requested output length, not the server's: backend "
            f"{backend!r:.40} does not always report usage (sglang #10746)"
            for backend, prefix in zip(backends, prefixes, strict=True)
            if backend != SERVER_COUNTED_BACKEND
        ]
        return ToolRun(TOOL, self.format, base, _entries(objects, names, options.timestamp, options), warnings)


def _backend(line: int, run: dict[str, object]) -> object:
    """The run's backend, once the run is known to be sglang's with its per-request arrays."""
    where = f"line {line}"
    if "backend" not in run or "date" in run:
        raise UnreadableFile(
            TOOL,
            f"{where}: {EXPECTED}"
            + (" (this one has a date: a vllm bench serve result, format vllm)" if "date" in run else ""),
        )
    request_count(run, TOOL, where)
    if not has_request_arrays(run):
        raise UnreadableFile(
            TOOL, f"{where}: the run holds only aggregates, no per-request arrays: rerun with --output-details"
        )
    return run["backend"]


def _entries(
    objects: RunObjects,
    names: list[str],
    timestamp: datetime,
    options: ImportOptions,
) -> Iterator[ReadEntry]:
    position = 0
    for (line, run), name in zip(objects, names, strict=True):
        settings = {key: run.get(key) for key in SETTINGS} | {
            key: value for key, value in run.items() if _RANDOM_SETTING.match(key)
        }
        model = next((value for key in ("model_id", "model") if isinstance(value := run.get(key), str) and value), None)
        context = RunContext(TOOL, name, options, settings, model)
        for index in range(request_count(run, TOOL, f"line {line}")):
            position += 1
            request_id = context.request_id(index + 1)
            try:
                request = serve_request(run, index)
            except InvalidResult as refused:
                yield ReadEntry(position, refused.at(position, request_id))
                continue
            yield request.entry(context, position, request_id, timestamp)
