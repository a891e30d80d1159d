"""An import's report is the truth: it counts exactly what its transactions committed, line by line,
as if the lines were taken one at a time, whatever the batch boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from src.application.import_results import ImportReport, store_columns
from src.domain.benchmark_result import BenchmarkResult
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
