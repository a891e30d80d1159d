"""NDJSON read in blocks accepts exactly what the domain accepts, stores what it would store, and
refuses with its words: every line is held to the line-by-line reading (each line decoded and
built as a BenchmarkResult), whatever the line, the options and the block size."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from src.adapters.importers import seed_blocks
from src.adapters.importers.instant_columns import read_instants
from src.adapters.importers.run_context import json_lines
from src.adapters.importers.seed_formats import NdjsonReader, _own_results
from src.application.ports.result_reader import ImportOptions, ReadBlock, ToolFile
from src.domain.benchmark_result import BenchmarkResult
from src.domain.errors import InvalidResult, InvalidTimestamp
from src.domain.result_columns import ResultColumns
from src.domain.timestamps import microseconds_since_epoch, parse_timestamp

# Values near or past every rule: NUL, a lone surrogate, '/', non-ASCII, reserved ids, empty, long.
_texts = st.one_of(
    st.sampled_from(["a", "ça va", "a/b", "x\x00y", "\ud800", "", "average", ".", "id:1", "a" * 256, "a" * 257]),
    st.text(max_size=6),
)


@st.composite
def _spelled_instants(draw: st.DrawFn) -> str:
    """Date-times spelled with every field drawn near and past its range (month 13, hour 24,
    second 60, offset +05:60, year 0), in the shapes the grammar knows and some it refuses."""
    year = draw(st.sampled_from([0, 1, 1970, 2024, 9999]) | st.integers(0, 9999))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = draw(st.integers(0, 25)), draw(st.integers(0, 61)), draw(st.integers(0, 61))
    separator = draw(st.sampled_from("TTTt "))
    fraction = draw(st.sampled_from(["", ".123", ".123456", ".1234567", ".5", ",250", ".9999995"]))
    offset = draw(
        st.sampled_from(["", "Z", "z", "+0200", "+00:00"])
        | st.builds("{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61))
    )
    return f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"


_timestamps = st.one_of(
    _spelled_instants(),
    st.sampled_from(["2024-01-01", "2024-01-01T00:00:00Z\x00", "２０２４-01-01T00:00:00Z", "1704067200"]),
    st.integers(),
    st.none(),
)


_counts = st.sampled_from([None, 0, -1, 10**9, 10**9 + 1, 10**30, True, 3.0, "3"])
_times = st.one_of(
    st.sampled_from([None, 0, 0.0, -0.0, -1.0, 1e12, 1e12 + 1, 10**12, 10**12 + 1, 5e-324, 2e5, "1.5"]),
    st.floats(min_value=-1.0, max_value=2e12, allow_nan=False),
)
_labels: st.SearchStrategy[object] = st.one_of(
    st.sampled_from([None, [], {}, {"run": "own"}, {"gpu": 1}, {f"k{i}": "v" for i in range(64)}]),
    st.dictionaries(st.sampled_from(["gpu", "run", "a:b", "", "k" * 128, "k" * 129, "ü"]), _texts, max_size=2),
)
_FIELDS = {
    "request_id": _texts | st.sampled_from([None, 1, "import", ".."]),
    "timestamp": _timestamps,
    "token_count": _counts,
    "prompt_token_count": _counts,
    "time_to_first_token": _times,
    "time_per_output_token": _times,
    "total_generation_time": _times,
    "prompt_text": _texts | st.none(),
    "generated_text": _texts | st.none(),
    "model": _texts | st.sampled_from([None, 1]),
    "labels": _labels,
    "error": _texts | st.sampled_from([None, 0, "e" * 4096, "e" * 4097]),
    "extra": st.integers(),
}
_plain_texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)
_names = st.text("ab-_.ü0", min_size=1, max_size=12).filter(lambda name: name not in {".", ".."})
# Values every rule accepts (a few need the slow way: a space before the time, seven fraction digits).
_VALID = {
    "request_id": _names,
    "timestamp": st.builds(
        lambda moment, fraction, offset: moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + offset,
        st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
        st.sampled_from(["", ".123", ".123456", ".1234567"]),
        st.sampled_from(["", "Z", "+02:00", "-05:30", "+0200"]),
    ),
    "token_count": st.integers(0, 10**9),
    "prompt_token_count": st.none() | st.integers(0, 10**9),
    "time_to_first_token": st.none() | st.floats(min_value=0.001, max_value=1e5) | st.integers(1, 10**5),
    "time_per_output_token": st.none() | st.floats(min_value=0.0, max_value=1e3),
    "total_generation_time": st.floats(min_value=1e5, max_value=1e12) | st.just(10**12),
    "prompt_text": _plain_texts,
    "generated_text": _plain_texts,
    "model": st.none() | _names,
    "labels": st.dictionaries(st.sampled_from(["gpu", "tp", "run"]), _plain_texts, max_size=2),
    "error": st.none() | st.none() | _names,
}


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    """A line: now and then no result at all; otherwise a record whose fields are valid but for
    up to two, which take any value near or past a rule, or go missing."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from([b"\n", b"   \n", b"not json\n", b"[1]\n", b"{}\n", b'{"request_id": "x"} {}\n']))
    # Mostly one field broken, so that the rule it breaks is the only one that can refuse it.
    count = draw(st.sampled_from([0, 1, 1, 1, 2]))
    broken = draw(st.lists(st.sampled_from(sorted(_FIELDS)), min_size=count, max_size=count, unique=True))
    record: dict[str, Any] = {}
    for name, wild in _FIELDS.items():
        if name not in broken:
            if name in _VALID:
                record[name] = draw(_VALID[name])
        elif draw(st.integers(0, 7)):
            record[name] = draw(wild)
    text = json.dumps(record, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass") + b"\n"


def _line(**fields: object) -> bytes:
    usual = {"request_id": "r", "timestamp": "2024-01-01T00:00:00Z", "token_count": 1, "total_generation_time": 9}
    return json.dumps(usual | fields).encode() + b"\n"


_FIRST = b'{"request_id": "first", "timestamp": "2024-01-01T00:00:00Z", "token_count": 1, "total_generation_time": 1}\n'
_options = st.builds(
    ImportOptions,
    run=st.sampled_from([None, "night-1"]),
    model=st.sampled_from([None, "llama"]),
    labels=st.sampled_from([(), (("gpu", "h100"),), (("k" * 128, "v"),)]),
)


def _stored_form(result: BenchmarkResult) -> str:
    # repr tells -0.0 from 0.0 and 5 from 5.0, which == does not.
    return repr(next(ResultColumns.of([result]).rows()))


def _line_by_line(path: Path, options: ImportOptions) -> dict[int, object]:
    entries = _own_results(json_lines(ToolFile("x", path)), options)
    return {entry.position: _outcome(entry.outcome) for entry in entries}


def _outcome(outcome: BenchmarkResult | InvalidResult) -> object:
    if isinstance(outcome, InvalidResult):
        return ("refused", outcome.field, outcome.reason, outcome.index, outcome.request_id)
    return ("stored", _stored_form(outcome))


# A line past each rule the columns check, each of them else as valid as _line.
_PAST_EACH_RULE = [
    *(_line(time_to_first_token=value) for value in (-0.0, 0, 10.0, 1e12 + 1)),
    *(_line(total_generation_time=value) for value in (None, 10**12, 1e12 + 1, -1)),
    *(_line(token_count=value) for value in (None, -1, 10**9 + 1, 10**9)),
    *(_line(prompt_token_count=value) for value in (-1, 10**9 + 1)),
    *(_line(prompt_text=text) for text in ("a\x00", "ça", "a/b")),
    _line(generated_text="x\x00y"),
    *(_line(request_id=name) for name in ("", "a/b", "average", "..", ".", "a" * 257, "x\x00", "ü")),
    *(_line(error=text) for text in ("", "e" * 4097, "e" * 4096, "e\x00")),
    _line(error="boom", token_count=None, total_generation_time=None),
    *(_line(model=name) for name in ("", "m" * 257, "m\x00", "ü")),
    *(
        _line(timestamp="2024-01-01T" + time)
        for time in ("00:00:60Z", "24:00:00Z", "23:60:00Z", "00:00:00+24:00", "00:00:00+05:60", "00:00:00.1234Z")
    ),
    *(_line(timestamp=moment) for moment in ("0000-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01")),
    *(_line(labels=labels) for labels in ({"gpu": "a\x00"}, {"a:b": "x"}, {f"k{i}": "v" for i in range(64)})),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_lines(), max_size=12), options=_options, block_lines=st.integers(1, 5))
# A label the import adds hides none the line got wrong; a line's empty model is refused, not replaced.
@example(lines=_PAST_EACH_RULE, options=ImportOptions(), block_lines=5)
@example(lines=_PAST_EACH_RULE, options=ImportOptions(model="llama", labels=(("gpu", "h100"),)), block_lines=1)
@example(lines=[_line(labels={"gpu": "a\x00"})], options=ImportOptions(labels=(("gpu", "h100"),)), block_lines=1)
@example(lines=[_line(labels={"run": "\ud800"})], options=ImportOptions(run="night-1"), block_lines=1)
@example(lines=[_line(model="")], options=ImportOptions(model="llama"), block_lines=1)
def test_blocks_read_every_line_as_the_domain_reads_it_alone(
    tmp_path: Path, lines: list[bytes], options: ImportOptions, block_lines: int
) -> None:
    path = tmp_path / "results.ndjson"
    # A first line of a result, so that the file is NDJSON whatever lines follow it.
    path.write_bytes(b"".join([_FIRST, *lines]))
    with mock.patch.object(seed_blocks, "BLOCK_LINES", block_lines):
        run = NdjsonReader().read([ToolFile("x", path)], options)
        blocks = list(run.entries)
    read: dict[int, object] = {}
    for block in blocks:
        assert isinstance(block, ReadBlock)
        assert list(block.positions) == sorted(block.positions)
        for position, row in zip(block.positions, block.accepted.rows(), strict=True):
            read[position] = ("stored", repr(row))
        for error in block.refused:
            read[error.index or 0] = _outcome(error)
    assert read == _line_by_line(path, options)


def test_the_usual_lines_are_settled_as_columns_without_the_slow_way(tmp_path: Path) -> None:
    # The point of blocks: the lines tools write are never read one by one.
    path = tmp_path / "results.ndjson"
    lines = [
        {
            "request_id": f"r{i}",
            "timestamp": f"2024-06-01T12:00:{i:02d}{suffix}",
            "token_count": 10,
            "time_to_first_token": 20.5,
            "total_generation_time": 100,
            "generated_text": "ça va",
            "labels": {"gpu": "h100"},
        }
        for i, suffix in enumerate(["Z", "+02:00", ".250Z", ".123456-05:30", ""])
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    slow_path = mock.Mock(return_value=[])
    (block,) = seed_blocks.seed_blocks(enumerate(path.open("rb"), start=1), ImportOptions(run="n"), slow_path)
    slow_path.assert_not_called()
    assert list(block.positions) == [1, 2, 3, 4, 5]
    rows = list(block.accepted.rows())
    # 12:00:01+02:00 is 10:00:01 UTC; ints become floats as the domain makes them.
    assert rows[1][1] == microseconds_since_epoch(datetime(2024, 6, 1, 10, 0, 1, tzinfo=UTC))
    assert rows[3][1] == microseconds_since_epoch(datetime(2024, 6, 1, 17, 30, 3, 123456, tzinfo=UTC))
    assert rows[0][5] == 100.0
    assert isinstance(rows[0][5], float)
    assert rows[0][9] == '{"gpu":"h100","run":"n"}'


@given(texts=st.lists(_spelled_instants(), max_size=20))
def test_instants_read_as_columns_are_those_parse_timestamp_reads(texts: list[str]) -> None:
    microseconds, read = read_instants(texts)
    for text, value, was_read in zip(texts, microseconds.tolist(), read.tolist(), strict=True):
        if was_read:
            assert value == microseconds_since_epoch(parse_timestamp(text)), text


def test_instants_of_the_usual_shapes_are_read_and_others_left_to_the_domain() -> None:
    texts = ["2024-06-01T12:00:00Z", "2024-06-01T12:00:00.5Z", "2024-06-01 12:00:00Z", "2024-02-29T00:00:00-01:00"]
    microseconds, read = read_instants(texts)
    assert read.tolist() == [True, False, False, True]
    leap_day = datetime(2024, 2, 29, tzinfo=UTC) + timedelta(hours=1)
    assert microseconds[3] == microseconds_since_epoch(leap_day)
    # A day the calendar lacks is left to the domain, which names the fault; the others are read.
    # (A column of 600 with such days once went to numpy's date parser, which crashed the process.)
    texts = ["2024-06-01T12:00:00Z"] * 600
    texts[3], texts[5], texts[7] = "2024-02-30T00:00:00Z", "2023-02-29T00:00:00+02:00", "2024-04-31T00:00:00Z"
    microseconds, read = read_instants(texts)
    assert [index for index, was_read in enumerate(read.tolist()) if not was_read] == [3, 5, 7]
    assert set(microseconds[read].tolist()) == {microseconds_since_epoch(datetime(2024, 6, 1, 12, tzinfo=UTC))}
    with pytest.raises(InvalidTimestamp, match="day is out of range"):
        parse_timestamp("2024-02-30T00:00:00Z")


def test_a_line_nested_deep_is_stored_or_refused_for_what_it_says_not_for_its_depth(tmp_path: Path) -> None:
    # Nested as deep as msgspec decodes from the reader's first look, but deeper than a second
    # decoding further down the stack reaches: the line's own fault (a zero duration, which the
    # domain accepts) is what decides, not where the line is decoded.
    deep = "[" * 500 + "]" * 500
    line = _line(request_id="deep", total_generation_time=0).rstrip(b"}\n") + f', "x": {deep}}}\n'.encode()
    path = tmp_path / "deep.ndjson"
    path.write_bytes(_FIRST + line)
    with mock.patch.object(msgspec.json, "decode", side_effect=RecursionError):
        (block,) = NdjsonReader().read([ToolFile("x", path)], ImportOptions()).entries
    assert isinstance(block, ReadBlock)
    assert list(block.positions) == [1, 2]
    assert next(itertools.islice(block.accepted.rows(), 1, None))[5] == 0.0
