"""NDJSON read in blocks: a block of seed-format lines checked column by column, never result by result.

Reading a line as a BenchmarkResult costs some 10 us in Python (a dict, a frozen object, its
checks, a timestamp); a million-line import spent most of its time there. Here each line is
decoded by msgspec into a typed record (types checked in C), and a block's records are checked as
columns against BenchmarkResult's rules: lengths and ranges by numpy, texts by one test of the
joined column, timestamps by read_instants, labels once per distinct label set.

Whatever the columns cannot settle (a record of another shape, a value failing or near a rule,
an unusual timestamp) goes the way every line went before: decoded as a dict and built as a
BenchmarkResult, which accepts it or says exactly why not. So a block accepts only what the
domain accepts, with the values the domain would store (the reader's property test holds it to
that), and refuses with the domain's own words.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from msgspec import UNSET, UnsetType

from src.adapters.importers.instant_columns import read_instants
from src.adapters.importers.run_context import decoded_lines
from src.application.ports.result_reader import ImportOptions, ReadBlock, ReadEntry
from src.domain.benchmark_result import (
    MAX_ERROR_LENGTH,
    MAX_MILLISECONDS,
    MAX_MODEL_LENGTH,
    MAX_REQUEST_ID_LENGTH,
    MAX_TOKEN_COUNT,
    RESERVED_REQUEST_IDS,
    checked_labels,
    request_id_problem,
    storable_text,
)
from src.domain.errors import InvalidResult
from src.domain.result_columns import ResultColumns, canonical_labels, row_of

BLOCK_LINES = 10_000
"""Lines read and checked together: an import's default batch, so a block is stored as one."""

Numbered = tuple[int, bytes]
"""A line of the file (its bytes, newline included) and its 1-based number."""
Decoded = tuple[int, Any | None, str | None]
"""A line decoded: its number, its JSON value, or why it is no JSON (as json_lines gives them)."""
SlowPath = Callable[[Iterable[Decoded]], Iterable[ReadEntry]]
"""How lines the columns cannot settle are read: one by one, through BenchmarkResult, as entries."""


class SeedRecord(msgspec.Struct, gc=False):
    """A seed-format line as msgspec decodes it, each field of the type BenchmarkResult takes.

    A line of another shape (a field missing or of another type, a null text or label set) is
    no SeedRecord: its decoding fails and the line goes the slow way, where the domain names
    what is wrong. Labels are UNSET when absent, so that null (refused) is told from absent.
    """

    request_id: str
    timestamp: str
    token_count: int | None = None
    time_to_first_token: float | None = None
    time_per_output_token: float | None = None
    total_generation_time: float | None = None
    prompt_text: str = ""
    generated_text: str = ""
    model: str | None = None
    labels: dict[str, str] | UnsetType = UNSET
    prompt_token_count: int | None = None
    error: str | None = None


_decode_record = msgspec.json.Decoder(SeedRecord).decode


def seed_blocks(lines: Iterable[Numbered], options: ImportOptions, slow_path: SlowPath) -> Iterator[ReadBlock]:
    """The file's lines (numbered, blank ones included) as blocks of BLOCK_LINES lines."""
    added = dict(options.labels) | ({"run": options.run} if options.run else {})
    labels = _LabelSets(added)
    iterator = iter(lines)
    while chunk := list(itertools.islice(iterator, BLOCK_LINES)):
        yield _block(chunk, options.model, labels, slow_path)


def _block(chunk: list[Numbered], model: str | None, labels: _LabelSets, slow_path: SlowPath) -> ReadBlock:
    numbers: list[int] = []
    records: list[SeedRecord] = []
    lines: list[bytes] = []
    undecoded: list[Numbered] = []
    for numbered in chunk:
        try:
            records.append(_decode_record(numbered[1]))
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            undecoded.append(numbered)  # not JSON, a blank line, a record of another shape, or nested too deep
        else:
            numbers.append(numbered[0])
            lines.append(numbered[1])
    columns, settled = _checked(records, model, labels)
    if not undecoded and settled.all():
        return ReadBlock(ResultColumns(*columns), numbers, ())
    rows = zip(*columns, strict=True)
    accepted = [(number, row) for number, row, fine in zip(numbers, rows, settled, strict=True) if fine]
    unsettled = [
        (number, _plain_json(line, record), None)
        for number, line, record, fine in zip(numbers, lines, records, settled, strict=True)
        if not fine
    ]
    values = sorted([*decoded_lines(undecoded), *unsettled], key=itemgetter(0))
    refused: list[InvalidResult] = []
    read_slowly: list[tuple[int, tuple[Any, ...]]] = []
    for entry in slow_path(values):
        if isinstance(entry.outcome, InvalidResult):
            refused.append(entry.outcome)
        else:
            read_slowly.append((entry.position, row_of(entry.outcome)))
    # File order within the block too: of two lines with one id, the first is the one kept.
    merged = list(heapq.merge(accepted, read_slowly, key=itemgetter(0)))
    return ReadBlock(ResultColumns.from_rows([row for _, row in merged]), [number for number, _ in merged], refused)


def _plain_json(line: bytes, record: SeedRecord) -> Any:
    """A line decoded as plain JSON, as it is when read alone (an integer stays an integer in a
    refusal's words). A line nesting deeper than that decoding reaches from here (msgspec's limit
    follows the stack) is taken as the record already decoded, less the keys no result reads:
    how deep a line nests never decides whether it is stored."""
    try:
        return msgspec.json.decode(line)
    except RecursionError:
        fields = ((name, getattr(record, name)) for name in record.__struct_fields__)
        return {name: value for name, value in fields if value is not UNSET}


def _checked(
    records: list[SeedRecord], model: str | None, labels: _LabelSets
) -> tuple[list[Sequence[Any]], npt.NDArray[np.bool_]]:
    """The records as ResultColumns' columns (in its order), and which of them the columns
    settle as results the domain accepts, exactly as it would store them."""
    count = len(records)
    request_id = [record.request_id for record in records]
    token_count = [record.token_count for record in records]
    first = [record.time_to_first_token for record in records]
    per_token = [record.time_per_output_token for record in records]
    total = [record.total_generation_time for record in records]
    prompt_text = [record.prompt_text for record in records]
    generated_text = [record.generated_text for record in records]
    own_models = [record.model for record in records]
    prompt_tokens = [record.prompt_token_count for record in records]
    error = [record.error for record in records]
    at_us, settled = read_instants([record.timestamp for record in records])
    label_texts = labels.texts([record.labels for record in records], settled)

    settled &= _storable(request_id) & _lengths_within(request_id, 1, MAX_REQUEST_ID_LENGTH)
    if "/" in "".join(request_id) or not RESERVED_REQUEST_IDS.isdisjoint(request_id):
        settled &= np.fromiter((request_id_problem(name) is None for name in request_id), bool, count)
    settled &= _storable(prompt_text) & _storable(generated_text) & _models_fine(own_models)
    failed = np.fromiter((text is not None for text in error), bool, count)
    if failed.any():
        errors = [text or "" for text in error]
        settled &= ~failed | (_storable(errors) & _lengths_within(errors, 1, MAX_ERROR_LENGTH))
    counts, counted = _numbers(token_count), _numbers(prompt_tokens)
    settled &= _within(counts, 0, MAX_TOKEN_COUNT) & _within(counted, 0, MAX_TOKEN_COUNT)
    times = [_numbers(values) for values in (first, per_token, total)]
    for values in times:
        # Zero goes the domain's way, which stores -0.0 as 0.0.
        settled &= np.isnan(values) | ((values > 0.0) & (values <= MAX_MILLISECONDS))
    # A success needs its output tokens and its duration; a first token after the last is refused.
    settled &= failed | (~np.isnan(counts) & ~np.isnan(times[2]))
    settled &= ~(times[0] > times[2])
    models = own_models if model is None else [own if own is not None else model for own in own_models]
    columns: list[Sequence[Any]] = [
        request_id,
        at_us.tolist(),
        token_count,
        first,
        per_token,
        total,
        prompt_text,
        generated_text,
        models,
        label_texts,
        prompt_tokens,
        error,
    ]
    return columns, settled


def _numbers(values: list[Any]) -> npt.NDArray[np.float64]:
    """A column of numbers or None as floats, NaN for None (a count too large for a float's exact
    range is still far past any bound it is checked against)."""
    return np.array([np.nan if value is None else float(value) for value in values], dtype=np.float64)


def _within(values: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.bool_]:
    """Whether each value is undefined (NaN) or between `low` and `high`."""
    return np.isnan(values) | ((values >= low) & (values <= high))


def _lengths_within(texts: list[str], low: int, high: int) -> npt.NDArray[np.bool_]:
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    return (lengths >= low) & (lengths <= high)


def _storable(texts: list[str]) -> npt.NDArray[np.bool_]:
    """Whether each text is storable (storable_text): NUL and lone surrogates are single
    characters, so one look at the joined column settles the usual case."""
    if storable_text("\n".join(texts)):
        return np.ones(len(texts), bool)
    return np.fromiter(map(storable_text, texts), bool, len(texts))


def _models_fine(models: list[str | None]) -> npt.NDArray[np.bool_]:
    """A model is absent, or 1 to MAX_MODEL_LENGTH storable characters: checked once per model."""
    verdicts = {
        name: name is None or (0 < len(name) <= MAX_MODEL_LENGTH and storable_text(name)) for name in set(models)
    }
    if all(verdicts.values()):
        return np.ones(len(models), bool)
    return np.fromiter(map(verdicts.__getitem__, models), bool, len(models))


class _LabelSets:
    """Each record's labels with the import's added to them, as canonical JSON text: worked out
    once per distinct label set of the file, through the domain's own label rules."""

    def __init__(self, added: dict[str, str]) -> None:
        self._added = added
        self._texts: dict[tuple[tuple[str, str], ...], str | None] = {}

    def texts(self, labels: list[dict[str, str] | UnsetType], settled: npt.NDArray[np.bool_]) -> list[str]:
        """Each record's label text; a record whose labels the domain refuses is marked unsettled
        in `settled` (its text is then "{}" and means nothing)."""
        texts: list[str] = []
        known = self._texts
        for index, own in enumerate(labels):
            key = tuple(own.items()) if isinstance(own, dict) else ()
            text = known[key] if key in known else known.setdefault(key, self._text(dict(key)))
            if text is None:
                settled[index] = False
                text = "{}"
            texts.append(text)
        return texts

    def _text(self, own: dict[str, str]) -> str | None:
        # The record's own labels are checked before the import's are added, as they are when
        # the record is read as a BenchmarkResult: a bad label the added one would hide is refused.
        try:
            checked_labels(own)
            return canonical_labels(checked_labels({**own, **self._added}))
        except InvalidResult:
            return None
