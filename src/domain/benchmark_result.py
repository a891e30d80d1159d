"""The BenchmarkResult entity: one request of an LLM load test, as its benchmark tool recorded it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from src.domain.errors import InvalidResult, InvalidTimestamp, shown
from src.domain.timestamps import as_utc, parse_timestamp

# Upper bounds far beyond any real request (a billion tokens; 10^12 ms is about 31 years). They
# keep the sum over even a billion results far below float overflow, so an average is never inf.
MAX_TOKEN_COUNT = 10**9
MAX_MILLISECONDS = 1e12

TIME_FIELDS = ("time_to_first_token", "time_per_output_token", "total_generation_time")
# The metrics that are averaged, in the order every aggregate and column set keeps them.
METRICS = ("token_count", *TIME_FIELDS)
# Every stored metric: the averaged ones, then the input tokens, which statistics summarise too.
STORED_METRICS = (*METRICS, "prompt_token_count")
TEXT_FIELDS = ("prompt_text", "generated_text")
# Every result names itself and its instant; a successful one also its output and its duration.
# The other metrics may be undefined even on a success: TTFT without streaming, TPOT at one output
# token or none, the input tokens when the tool did not count them.
REQUIRED_FIELDS = ("request_id", "timestamp")
REQUIRED_FOR_SUCCESS = ("token_count", "total_generation_time")
_NEEDED_FOR_SUCCESS = "is missing: a successful result needs it (a failed one carries an error)"
# A tool's error message or code; a traceback is cut to this by the importers.
MAX_ERROR_LENGTH = 4096

# Bounds that keep an id usable as a database key and a label set small enough to group by.
MAX_REQUEST_ID_LENGTH = 256
MAX_MODEL_LENGTH = 256
MAX_LABELS = 64
MAX_LABEL_KEY_LENGTH = 128
MAX_LABEL_VALUE_LENGTH = 1024
# A label filter is written key:value, so a key cannot hold the separator.
LABEL_SEPARATOR = ":"
# A result is read back at /results/{request_id}, so its id must be one path segment that no other
# view of the results takes: these are the fixed names under /results/ (the HTTP layer's tests hold
# its routes to this list), and "." and ".." are removed from paths by URL normalisation (RFC 3986,
# section 5.2.4) before a request is sent.
RESERVED_REQUEST_IDS = frozenset({".", "..", "average", "import", "stats", "timeseries", "compare", "histogram"})


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """Times are milliseconds; `timestamp` is when the result was recorded, always in UTC.

    Results are the same result when their `request_id` is the same; `same_content` tells whether
    two of them also say the same thing. `model` and `labels` are optional, kept for grouping.

    A result with an `error` (the tool's message or code) is a failed request: it may leave any
    metric out, and no statistic reads its metrics. A successful one (`error` None) has its
    `token_count` and `total_generation_time`; its TTFT, TPOT and `prompt_token_count` are None
    where they are undefined (no streaming; one output token or none; not counted). None is never
    stored as 0, and a first token after the last (TTFT > end-to-end) is refused.
    """

    request_id: str
    token_count: int | None
    time_to_first_token: float | None
    time_per_output_token: float | None
    total_generation_time: float | None
    timestamp: datetime
    prompt_text: str = ""
    generated_text: str = ""
    model: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    prompt_token_count: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        request_id = self.request_id
        if not isinstance(request_id, str) or not request_id:
            raise InvalidResult("request_id", "must be a non-empty string")
        # An import validates a million of these: the usual case (short ASCII id, no error, texts
        # of ASCII without NUL) is settled in a few comparisons before the general checks.
        if not (len(request_id) <= MAX_REQUEST_ID_LENGTH and _plain(request_id) and "/" not in request_id) or (
            request_id in RESERVED_REQUEST_IDS
        ):
            problem = request_id_problem(request_id)
            if problem is not None:
                raise InvalidResult("request_id", problem)
        if self.error is not None:
            _check_error(self.error)
        self._check_metrics()
        for name in TEXT_FIELDS:
            text = getattr(self, name)
            if not isinstance(text, str):
                raise InvalidResult(name, f"must be a string, got {_json_kind(text)}")
            if not _plain(text):
                _refuse_unstorable(name, text)
        if type(self.timestamp) is not datetime or self.timestamp.tzinfo is not UTC:
            object.__setattr__(self, "timestamp", _as_utc(self.timestamp))
        _check_model(self.model)
        object.__setattr__(self, "labels", checked_labels(self.labels))

    def _check_metrics(self) -> None:
        for name in ("token_count", "prompt_token_count"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or not 0 <= value <= MAX_TOKEN_COUNT):
                _check_token_count(name, value)
        for name in TIME_FIELDS:
            value = getattr(self, name)
            # The common case, a positive float in range, is settled in one comparison (NaN fails it
            # too); zero goes the long way, which turns -0.0 into 0.0.
            if value is not None and (type(value) is not float or not 0.0 < value <= MAX_MILLISECONDS):
                object.__setattr__(self, name, _check_milliseconds(name, value))
        if self.error is None:
            for name in REQUIRED_FOR_SUCCESS:
                if getattr(self, name) is None:
                    raise InvalidResult(name, _NEEDED_FOR_SUCCESS)
        first, last = self.time_to_first_token, self.total_generation_time
        if first is not None and last is not None and first > last:
            raise InvalidResult(
                "time_to_first_token",
                f"{first:g} ms exceeds total_generation_time {last:g} ms: no clock sees the first token after the last",
            )

    @property
    def succeeded(self) -> bool:
        """Whether the request succeeded: only then do its metrics reach a statistic."""
        return self.error is None

    @classmethod
    def from_mapping(cls, record: object) -> BenchmarkResult:
        """A result from a decoded JSON object; unknown keys are ignored, texts may be absent, and
        an absent or null metric is undefined (see the class)."""
        if not isinstance(record, Mapping):
            raise InvalidResult(None, f"must be a JSON object, got {_json_kind(record)}")
        missing = [name for name in REQUIRED_FIELDS if name not in record]
        if missing:
            raise InvalidResult(missing[0], "is missing")
        get = record.get
        # Positional, in field order (a dozen keywords cost a third more per result).
        return cls(
            record["request_id"],
            get("token_count"),
            get("time_to_first_token"),
            get("time_per_output_token"),
            get("total_generation_time"),
            parse_result_timestamp(record["timestamp"]),
            get("prompt_text", ""),
            get("generated_text", ""),
            get("model"),
            # Only an object is labels: null, "", 0 or [] is a mistake, not "no labels".
            get("labels", _NO_LABELS),
            get("prompt_token_count"),
            get("error"),
        )

    def same_content(self, other: BenchmarkResult) -> bool:
        """Whether `other` records exactly what this result records (the same instant counts as the same time)."""
        return all(getattr(self, name) == getattr(other, name) for name in CONTENT_FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BenchmarkResult):
            return NotImplemented
        return self.request_id == other.request_id

    def __hash__(self) -> int:
        return hash(self.request_id)


_NO_LABELS: Mapping[str, str] = {}
"""The labels of a record that has none (never changed: checked_labels returns a new dict)."""

CONTENT_FIELDS = (*REQUIRED_FIELDS, *STORED_METRICS, *TEXT_FIELDS, "model", "labels", "error")


def parse_result_timestamp(text: object) -> datetime:
    """A result's timestamp field, failing as an InvalidResult that names the field."""
    try:
        return parse_timestamp(text)
    except InvalidTimestamp as error:
        raise InvalidResult("timestamp", f"must be an ISO 8601 date-time ({error.reason}), got {shown(text)}") from None


def derived_time_per_output_token(
    total_generation_time: float | None, time_to_first_token: float | None, token_count: int | None
) -> float | None:
    """TPOT in ms as vLLM, AIPerf and GenAI-Perf define it: (e2e - TTFT) / (output tokens - 1),
    per request; None when undefined (one output token or none, or a figure missing). Never a
    tool's own "TPOT" that includes TTFT (guidellm, llm-load-test) or counts chunks (llmperf)."""
    if total_generation_time is None or time_to_first_token is None or token_count is None or token_count <= 1:
        return None
    return (total_generation_time - time_to_first_token) / (token_count - 1)


def request_id_problem(request_id: str) -> str | None:
    """Why `request_id` (a non-empty string) cannot name a stored result, or None when it can."""
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        return f"must be at most {MAX_REQUEST_ID_LENGTH} characters long"
    if "/" in request_id:
        return "must not contain '/': a result is read back at /results/{request_id}, one path segment"
    if request_id in RESERVED_REQUEST_IDS:
        return (
            f"must not be {request_id!r}: /results/{request_id} names something else "
            f"(reserved: {', '.join(sorted(RESERVED_REQUEST_IDS))})"
        )
    return _unstorable_text(request_id)


def _check_token_count(name: str, value: Any) -> int:
    # bool is an int in Python, but `true` is not a token count.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidResult(name, f"must be an integer, got {_json_kind(value)}")
    if not 0 <= value <= MAX_TOKEN_COUNT:
        raise InvalidResult(name, f"must be between 0 and {MAX_TOKEN_COUNT}, got {shown(value)}")
    return value


def _check_error(error: object) -> None:
    if error is None:
        return
    if not isinstance(error, str) or not error:
        raise InvalidResult("error", f"must be a non-empty string, or null for a success, got {_json_kind(error)}")
    if len(error) > MAX_ERROR_LENGTH:
        raise InvalidResult("error", f"must be at most {MAX_ERROR_LENGTH} characters long")
    _refuse_unstorable("error", error)


def _check_milliseconds(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidResult(name, f"must be a number of milliseconds, got {_json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidResult(name, f"must be a finite number, got {shown(value)}")
    # Python compares int with float exactly, so a huge integer cannot slip through as inf.
    if not 0 <= value <= MAX_MILLISECONDS:
        raise InvalidResult(name, f"must be between 0 and {MAX_MILLISECONDS:.0e} milliseconds, got {shown(value)}")
    return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0


def _check_model(model: object) -> None:
    if model is None:
        return
    if not isinstance(model, str) or not model:
        raise InvalidResult("model", f"must be a non-empty string or absent, got {_json_kind(model)}")
    if len(model) > MAX_MODEL_LENGTH:
        raise InvalidResult("model", f"must be at most {MAX_MODEL_LENGTH} characters long")
    _refuse_unstorable("model", model)


def checked_labels(labels: object) -> dict[str, str]:
    """A result's labels, sorted by key, as the rules in BenchmarkResult accept them; raises
    InvalidResult (field "labels") naming the first rule `labels` breaks."""
    if not isinstance(labels, Mapping):
        raise InvalidResult("labels", f"must be an object of strings, got {_json_kind(labels)}")
    if not labels:
        return {}
    if len(labels) > MAX_LABELS:
        raise InvalidResult("labels", f"must hold at most {MAX_LABELS} labels, got {len(labels)}")
    for key, value in labels.items():
        if not isinstance(key, str) or not key or LABEL_SEPARATOR in key or len(key) > MAX_LABEL_KEY_LENGTH:
            raise InvalidResult(
                "labels",
                f"keys must be 1 to {MAX_LABEL_KEY_LENGTH} characters without {LABEL_SEPARATOR!r}, got {shown(key)}",
            )
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE_LENGTH:
            raise InvalidResult(
                "labels", f"value of {shown(key)} must be a string of at most {MAX_LABEL_VALUE_LENGTH} characters"
            )
        # Each on its own: halves of a surrogate pair at the end of the key and the start of the
        # value would pass as one character if joined.
        _refuse_unstorable("labels", key)
        _refuse_unstorable("labels", value)
    # Sorted, so that equal label sets look the same wherever they are stored or shown.
    return dict(sorted(labels.items()))


def _plain(text: str) -> bool:
    """Whether `text` is ASCII without NUL: storable everywhere, without looking further."""
    return text.isascii() and "\x00" not in text


def _refuse_unstorable(name: str, text: str) -> None:
    problem = _unstorable_text(text)
    if problem is not None:
        raise InvalidResult(name, problem)


def _unstorable_text(text: str) -> str | None:
    """Why no store can keep `text`, or None. Refusing it everywhere keeps every store accepting
    the same results: PostgreSQL's text cannot hold NUL, and no UTF-8 store or reply can hold a
    lone surrogate (a JSON escape such as \\ud800 that pairs with nothing; RFC 8259, section 8.2)."""
    if "\x00" in text:
        return "must not contain the NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as error:
            return f"must be valid Unicode: a lone surrogate {text[error.start]!r} is at position {error.start}"
    return None


def storable_text(text: str) -> bool:
    """Whether `text` could be a stored result's text (id, model, label key or value). A question
    naming a text that could not be stored (a filter, a grouping, an id) names nothing stored."""
    return _unstorable_text(text) is None


def _as_utc(moment: object) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidResult("timestamp", f"must be a date-time, got {_json_kind(moment)}")
    try:
        return as_utc(moment)
    except InvalidTimestamp as error:
        raise InvalidResult("timestamp", f"is {error.reason}") from None


def _json_kind(value: object) -> str:
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }
    if value is None:
        return "null"
    return kinds.get(type(value), type(value).__name__)
