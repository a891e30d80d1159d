"""The seam between a benchmark tool's files and the import use case: one reader per file format.

A reader turns a tool's files, exactly as the tool wrote them, into domain results, one entry per
request in file order, each either a result or the reason it was refused. It owns the format's
knowledge (field names, units, clocks, failure shapes, version differences); the use case owns
batching, storing and the report.
"""

from __future__ import annotations

import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from src.domain.benchmark_result import (
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_MODEL_LENGTH,
    BenchmarkResult,
    storable_text,
)
from src.domain.errors import InvalidResult, MissingImportOption, shown
from src.domain.result_columns import ResultColumns

# How much of a file `recognizes` sees: enough for any tool's leading keys.
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ToolFile:
    """One file of a run: the name its user gave it (no directories; may be empty) and where its
    bytes are. Readers stream from `path`, so a file far larger than memory imports in bounded memory."""

    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What the user says about a run, beyond its files (the query parameters of POST /results/import)."""

    run: str | None = None
    """The run's name; None: derived from the files, the same for the same files."""
    model: str | None = None
    """The model, for files that name none; a model the file names wins."""
    labels: tuple[tuple[str, str], ...] = ()
    """Labels added to every result."""
    timezone: str | None = None
    """IANA name of the zone of a file's naive local clock (vLLM's `date`); None: UTC, with a warning."""
    timestamp: datetime | None = None
    """The run's instant (UTC) for files with no clock at all; such a file without it is refused."""

    def __post_init__(self) -> None:
        """Refuse, naming the parameter (MissingImportOption), what would make every request of
        the run invalid or mislabel it: a run name too long for `{run}#{position}` ids or holding
        NUL, an unstorable model or label, a label the import sets itself, an unknown time zone."""
        if self.run is not None:
            _check_text("run", self.run, MAX_RUN_LENGTH)
        if self.model is not None:
            _check_text("model", self.model, MAX_MODEL_LENGTH)
        for key, value in self.labels:
            if key in IMPORT_LABELS:
                raise MissingImportOption("label", f"the import sets {key!r} itself; name the run with run=...")
            _check_text("label", key + value, MAX_LABEL_KEY_LENGTH + MAX_LABEL_VALUE_LENGTH)
        if self.timezone is not None:
            _check_zone(self.timezone)


# A derived request id is `{run}#{position}`: a run name of at most this leaves room for any position
# within the domain's 256 characters.
MAX_RUN_LENGTH = 200
# Labels every imported result carries, set by the import from its run and its tool.
IMPORT_LABELS = ("run", "tool")


def _check_text(parameter: str, text: str, longest: int) -> None:
    if not text or len(text) > longest:
        raise MissingImportOption(parameter, f"must be 1 to {longest} characters long")
    if not storable_text(text):
        raise MissingImportOption(parameter, "must not hold NUL or a lone surrogate: no result can carry it")


def _check_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    # A folder of zones (Europe), a name too long for a path, a NUL: every one is an OSError or ValueError.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise MissingImportOption("timezone", f"{shown(name)} is no IANA time zone (e.g. Europe/Berlin, UTC)") from None


@dataclass(frozen=True, slots=True)
class ReadEntry:
    """One request of a file: its 1-based position (line, or place in the file's request list)
    and the result it became, or why the domain refused it (located at that position)."""

    position: int
    outcome: BenchmarkResult | InvalidResult


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """Consecutive requests of a file read at once: the accepted ones as columns, with each one's
    1-based position, and the refused ones (each InvalidResult located at its position). A reader
    of a plain, large format reads in blocks so that its results never become objects one by one."""

    accepted: ResultColumns
    positions: Sequence[int]
    refused: Sequence[InvalidResult]

    def entries(self) -> Iterator[ReadEntry]:
        """The block's requests one by one, in file order (accepted ones built as BenchmarkResults)."""
        accepted = (ReadEntry(position, self.accepted.result(index)) for index, position in enumerate(self.positions))
        refused = (ReadEntry(error.index or 0, error) for error in self.refused)
        return iter(sorted((*accepted, *refused), key=lambda entry: entry.position))


def each_entry(entries: Iterable[ReadEntry | ReadBlock]) -> Iterator[ReadEntry]:
    """A run's entries with its blocks taken apart: every request one by one, in file order."""
    for entry in entries:
        if isinstance(entry, ReadBlock):
            yield from entry.entries()
        else:
            yield entry


@dataclass
class ToolRun:
    """What a reader found: the tool, the format (and version) it read, the run's name, its
    requests (read lazily, in file order, one entry or one block at a time), and warnings for the
    report. `warnings` may grow while `entries` is consumed (an estimated token count is only seen
    on the request that has one)."""

    tool: str
    format: str
    run: str
    entries: Iterator[ReadEntry | ReadBlock]
    warnings: list[str] = field(default_factory=list)


class ResultReader(ABC):
    """Reads one file format. Stateless: one instance serves every import."""

    format: ClassVar[str]
    """The format's name as `format=` takes it (vllm, llmperf, ...)."""

    @abstractmethod
    def recognizes(self, head: bytes, name: str) -> bool:
        """Whether a file whose first HEAD_BYTES bytes are `head`, named `name`, is of this format.
        Cheap and certain: it looks at leading keys, never at the whole file."""

    @abstractmethod
    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        """The run in `files` (one file, or the files a tool writes together for one run).

        Raises UnreadableFile when the files cannot be read as this format at all (wrong format,
        truncated, not JSON): nothing of them is stored then. Raises MissingImportOption when the
        files need an option the user did not give (`timestamp` for a file with no clock). A
        single request the domain refuses is an entry with its InvalidResult, not an exception.
        """
