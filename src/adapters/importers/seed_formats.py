"""Our own formats: the seed document ({"benchmarking_results": [...]}) and NDJSON, one seed-format
result per line. Their results are stored as written: no `run` or `tool` label is added (so a file
imported before keeps its content), only the user's labels, `run` when given, and the model for
results that name none."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from src.adapters.importers.run_context import load_document, numbered_lines, only_file
from src.adapters.importers.seed_blocks import seed_blocks
from src.application.ports.result_reader import ImportOptions, ReadBlock, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult, UnreadableFile

RESULTS_KEY = "benchmarking_results"


def _own_results(records: Iterable[tuple[int, object, str | None]], options: ImportOptions) -> Iterator[ReadEntry]:
    """Each (position, decoded record, None) as the result it is, with the options' labels, run
    and model added, or the reason it is refused; (position, None, why) as a line that is no JSON."""
    added = dict(options.labels) | ({"run": options.run} if options.run else {})
    for position, record, problem in records:
        if problem is not None:
            yield ReadEntry(position, InvalidResult(None, problem, index=position))
            continue
        try:
            result = BenchmarkResult.from_mapping(record)
            if added or (options.model and result.model is None):
                result = replace(result, labels={**result.labels, **added}, model=result.model or options.model)
        except InvalidResult as refused:
            request_id = record.get("request_id") if isinstance(record, Mapping) else None
            yield ReadEntry(position, refused.at(position, request_id))
        else:
            yield ReadEntry(position, result)


class NdjsonReader(ResultReader):
    """One seed-format result per line (`application/x-ndjson`); positions are line numbers."""

    format = "ndjson"

    def recognizes(self, head: bytes, name: str) -> bool:
        first = head.lstrip().split(b"\n", 1)[0]
        return first.startswith(b"{") and b'"request_id"' in first and b'"timestamp"' in first

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        file = only_file(files, self.format)
        _refuse_another_format(file, self.format)
        return ToolRun(
            "superbenchmark",
            self.format,
            # No run label is added without run=, so the report names no run (the empty name).
            options.run or "",
            self._entries(file, options),
        )

    def _entries(self, file: ToolFile, options: ImportOptions) -> Iterator[ReadBlock]:
        # Lines read in blocks, checked as columns; what the columns cannot settle is read here
        # one line at a time, as the seed document's results are.
        return seed_blocks(numbered_lines(file), options, lambda values: _own_results(values, options))


class SeedReader(ResultReader):
    """The seed document; positions are 1-based places in its `benchmarking_results` array."""

    format = "seed"

    def recognizes(self, head: bytes, name: str) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and f'"{RESULTS_KEY}"'.encode() in head[:4096]

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        file = only_file(files, self.format)
        document = load_document(file, self.format)
        records = document.get(RESULTS_KEY) if isinstance(document, dict) else None
        if not isinstance(records, list):
            raise UnreadableFile(self.format, f'expected a JSON object with a "{RESULTS_KEY}" array')
        entries = _own_results(((index, record, None) for index, record in enumerate(records, start=1)), options)
        return ToolRun("superbenchmark", self.format, options.run or "", entries)


def _refuse_another_format(file: ToolFile, file_format: str) -> None:
    """UnreadableFile when the first non-blank line is no one-line JSON object naming a request_id:
    the file is another
    format (a pretty-printed document opens with a lone brace), not NDJSON with a bad line. A line
    that is an object but bad (a lone surrogate, a wrong field) is rejected on its own later."""
    with file.path.open("rb") as content:
        for line in content:
            text = line.strip()
            if not text:
                continue
            if not (text.startswith(b"{") and text.endswith(b"}") and b'"request_id"' in text):
                raise UnreadableFile(
                    file_format, "the first line is no JSON object with a request_id: not one result per line"
                )
            return
