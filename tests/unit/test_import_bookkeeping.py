"""An import's report is the truth: it counts exactly what its transactions committed, line by line,
as if the lines were taken one at a time, whatever the batch boundaries."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.application.import_results import ImportReport, ImportResults, store_columns
from src.application.ports.result_reader import ImportOptions, ReadBlock, ReadEntry, ResultReader, ToolFile, ToolRun
from src.application.ports.result_store import AddOutcome
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult
from src.domain.result_columns import ResultColumns
from tests.unit.fakes import FakeResultStore


def result(request_id: str, token_count: int) -> BenchmarkResult:
    return BenchmarkResult(request_id, token_count, 1.0, 1.0, 2.0, datetime(2024, 6, 1, tzinfo=UTC))


def columns(results: list[BenchmarkResult], *, as_read: bool) -> ResultColumns:
    """The results as columns: made of the objects, or as a reader's block holds them (rows only)."""
    made = ResultColumns.of(results)
    return ResultColumns.from_rows(list(made.rows())) if as_read else made


@dataclass
class Expected:
    stored: int = 0
    already_stored: int = 0
    rejected_lines: tuple[int, ...] = ()


def one_line_at_a_time(stored: dict[str, int], lines: list[tuple[str, int]]) -> Expected:
    """The reference: each line in order meets what is stored so far."""
    expected = Expected()
    for number, (request_id, token_count) in enumerate(lines, start=1):
        if request_id not in stored:
            stored[request_id] = token_count
            expected.stored += 1
        elif stored[request_id] == token_count:
            expected.already_stored += 1
        else:
            expected.rejected_lines += (number,)
    return expected


lines_strategy = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 3)), max_size=25)


@given(
    already=st.dictionaries(st.sampled_from("abcde"), st.integers(1, 3), max_size=3),
    lines=lines_strategy,
    batch_rows=st.integers(1, 8),
    as_read=st.booleans(),
)
def test_the_report_counts_what_was_stored_line_by_line(
    already: dict[str, int], lines: list[tuple[str, int]], batch_rows: int, as_read: bool
) -> None:
    store = FakeResultStore([result(request_id, tokens) for request_id, tokens in already.items()])
    report = ImportReport()
    numbered = [(number, result(request_id, tokens)) for number, (request_id, tokens) in enumerate(lines, start=1)]
    for first in range(0, len(numbered), batch_rows):
        batch = numbered[first : first + batch_rows]
        store_columns(store, columns([item for _, item in batch], as_read=as_read), report, [n for n, _ in batch])

    reference = dict(already)
    expected = one_line_at_a_time(reference, lines)
    assert (report.stored, report.already_stored) == (expected.stored, expected.already_stored)
    assert sorted(error.index or 0 for error in report.errors) == list(expected.rejected_lines)
    assert report.rejected == len(expected.rejected_lines)
    assert {key: value.token_count for key, value in store.results.items()} == reference


def test_a_repeated_id_keeps_its_first_line_and_an_identical_third_line_is_already_stored() -> None:
    # The reported fault: lines 1 and 3 equal, line 2 other content; once nothing was stored at all.
    store, report = FakeResultStore([]), ImportReport()
    batch = columns([result("x", 1), result("x", 2), result("x", 1)], as_read=True)
    store_columns(store, batch, report, [1, 2, 3])
    assert (report.stored, report.already_stored, report.rejected) == (1, 1, 1)
    assert report.errors[0].index == 2
    assert "earlier request" in report.errors[0].reason
    assert store.results["x"].token_count == 1


class _ListedReader(ResultReader):
    """A reader of a file of `request_id tokens` lines (for the use case alone)."""

    format = "listed"

    def recognizes(self, head: bytes, name: str) -> bool:
        return True

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        lines = files[0].path.read_text().split()
        pairs = zip(lines[::2], lines[1::2], strict=True)
        entries = (ReadEntry(number, result(name, int(tokens))) for number, (name, tokens) in enumerate(pairs, 1))
        return ToolRun("test", self.format, "", entries)


class _TwoAtOnceStore(FakeResultStore):
    """A store taking two batches at once, each held open a moment so that they overlap; it
    records how many were in flight together, and fails if two in flight share a request_id."""

    concurrent_batches = 2

    def __init__(self, results: list[BenchmarkResult]) -> None:
        super().__init__(results)
        self._lock = threading.Lock()
        self._in_flight: list[set[str]] = []
        self.most_at_once = 0

    def add_columns(self, columns: ResultColumns, *, all_or_nothing: bool = True) -> AddOutcome:
        ids = set(columns.request_id)
        with self._lock:
            assert all(ids.isdisjoint(other) for other in self._in_flight), "batches sharing an id overlapped"
            self._in_flight.append(ids)
            self.most_at_once = max(self.most_at_once, len(self._in_flight))
        time.sleep(0.002)
        try:
            with self._lock:
                return super().add_columns(columns, all_or_nothing=all_or_nothing)
        finally:
            with self._lock:
                self._in_flight.remove(ids)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(already=st.dictionaries(st.sampled_from("abcde"), st.integers(1, 3), max_size=3), lines=lines_strategy)
def test_batches_stored_two_at_once_count_as_one_line_at_a_time(
    tmp_path: Path, already: dict[str, int], lines: list[tuple[str, int]]
) -> None:
    store = _TwoAtOnceStore([result(request_id, tokens) for request_id, tokens in already.items()])
    path = tmp_path / "listed"
    path.write_text(" ".join(f"{name} {tokens}" for name, tokens in lines) or " ")
    report = ImportResults(store, [_ListedReader()], batch_rows=2)([ToolFile("f", path)], ImportOptions(), "listed")

    reference = dict(already)
    expected = one_line_at_a_time(reference, lines)
    assert (report.stored, report.already_stored) == (expected.stored, expected.already_stored)
    assert sorted(error.index or 0 for error in report.errors) == list(expected.rejected_lines)
    assert {key: value.token_count for key, value in store.results.items()} == reference


def test_batches_naming_other_ids_are_stored_two_at_once(tmp_path: Path) -> None:
    store = _TwoAtOnceStore([])
    path = tmp_path / "listed"
    path.write_text(" ".join(f"id-{number} 1" for number in range(40)))
    report = ImportResults(store, [_ListedReader()], batch_rows=2)([ToolFile("f", path)], ImportOptions(), "listed")
    assert report.stored == 40
    assert store.most_at_once == 2


class _CompactedStore(_TwoAtOnceStore):
    """Records, at each compaction, how many batches were still in flight and how many results stored."""

    def __init__(self) -> None:
        super().__init__([])
        self.compactions: list[tuple[int, int]] = []

    def compact(self) -> None:
        with self._lock:
            self.compactions.append((len(self._in_flight), len(self.results)))


def test_an_import_compacts_the_store_once_after_its_last_batch(tmp_path: Path) -> None:
    store = _CompactedStore()
    path = tmp_path / "listed"
    path.write_text(" ".join(f"id-{number} 1" for number in range(9)))
    report = ImportResults(store, [_ListedReader()], batch_rows=2)([ToolFile("f", path)], ImportOptions(), "listed")
    assert report.stored == 9
    assert store.compactions == [(0, 9)]


def test_an_import_counts_every_rejection_and_lists_the_first_hundred(tmp_path: Path) -> None:
    store = _TwoAtOnceStore([result("a", 1)])
    path = tmp_path / "listed"
    path.write_text(" ".join(f"{name} 2" for name in ["a"] * 130 + [f"b{number}" for number in range(5)] + ["a"] * 20))
    report = ImportResults(store, [_ListedReader()], batch_rows=120)([ToolFile("f", path)], ImportOptions(), "listed")
    assert (report.stored, report.rejected, len(report.errors)) == (5, 150, 100)
    assert [error.index for error in report.errors] == list(range(1, 101))


class _BlockReader(ResultReader):
    """A reader handing over a run as the test lays it out: blocks of results (some of them
    refused, as a block reports them) and single entries, in file order."""

    format = "blocks"

    def __init__(self, layout: list[int]) -> None:
        self._layout = layout  # a block of n results where n > 0; a single entry where 0

    def recognizes(self, head: bytes, name: str) -> bool:
        return True

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        entries: list[ReadEntry | ReadBlock] = []
        position = 0
        for size in self._layout:
            numbers = list(range(position + 1, position + 1 + max(size, 1)))
            position = numbers[-1]
            made = [result(f"id-{number}", 1) for number in numbers]
            if size == 0:
                entries.append(ReadEntry(numbers[0], made[0]))
                continue
            refused = [InvalidResult("token_count", "refused", index=numbers[0])]
            entries.append(ReadBlock(ResultColumns.of(made[1:]), numbers[1:], refused))
        return ToolRun("test", self.format, "", iter(entries))


@given(layout=st.lists(st.integers(0, 7), max_size=12), batch_rows=st.integers(1, 9))
def test_blocks_and_single_results_are_stored_in_batches_of_the_setting(layout: list[int], batch_rows: int) -> None:
    store = FakeResultStore([])
    importing = ImportResults(store, [_BlockReader(layout)], batch_rows=batch_rows)
    report = importing([ToolFile("f", Path("f"))], ImportOptions(), "blocks")
    batches = store.batches[1:]  # after the empty one every import begins with
    accepted = [f"id-{n}" for n in range(1, sum(max(size, 1) for size in layout) + 1)]
    refused = {f"id-{n}" for n in _first_of_blocks(layout)}
    expected = [name for name in accepted if name not in refused]
    assert [len(batch) for batch in batches] == [batch_rows] * (len(expected) // batch_rows) + (
        [len(expected) % batch_rows] if len(expected) % batch_rows else []
    )
    assert [name for batch in batches for name in sorted(batch, key=lambda n: int(n[3:]))] == expected
    assert (report.stored, report.rejected) == (len(expected), len(refused))


def _first_of_blocks(layout: list[int]) -> list[int]:
    firsts, position = [], 0
    for size in layout:
        if size:
            firsts.append(position + 1)
        position += max(size, 1)
    return firsts


@given(positions=st.lists(st.integers(1, 400), unique=True, max_size=250), split=st.integers(0, 250))
def test_the_report_lists_the_first_hundred_rejections_by_position_whatever_order_they_came_in(
    positions: list[int], split: int
) -> None:
    # A conflict is found when its batch is stored, after bad lines further on were reported.
    report, batch = ImportReport(), ImportReport()
    for position in positions[:split]:
        report.reject(InvalidResult("token_count", "refused", index=position))
    for position in positions[split:]:
        batch.reject(InvalidResult("request_id", "conflict", index=position))
    report.add(batch)
    assert report.rejected == len(positions)
    assert [error.index for error in report.errors] == sorted(positions)[:100]
