"""The one parser of what requests select: windows, filters and groupings, with their errors.

Every route reads its bounds, model, labels, grouping and metrics here, so a bad value is refused
alike everywhere and names the parameter as the request spelt it: a malformed bound is 422
`invalid-parameter` naming `start`, `end_time`, `baseline_start`... with the timestamp grammar's
reason; a reversed window is 422 `invalid-time-window` naming both bounds (its `parameter` member
names the end). The FastAPI annotations below document the same parameters in the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query

from src.domain.errors import InvalidParameter, InvalidStatisticsQuery, InvalidTimestamp, InvalidTimeWindow
from src.domain.result_selection import Grouping, ResultFilter, parse_labels
from src.domain.statistics import STATISTIC_METRICS
from src.domain.time_window import TimeWindow
from src.domain.timestamps import parse_timestamp, parse_window_end, parse_window_start

_BOUND_FORMS = (
    "ISO 8601 date-time with optional fraction and `Z` or ±HH:MM offset (send `+` raw or as `%2B`); "
    "without an offset it means UTC."
)
_BOUND = "As in the averages' windows: ISO 8601, without an offset UTC; a date alone is the start or whole of that day."


def _path_bound(role: str, date_alone: str, utc: str, offset: str, day: str) -> Any:
    return Path(
        description=f"{role} of the window, included. {_BOUND_FORMS} A date alone (YYYY-MM-DD) means {date_alone}.",
        openapi_examples={"UTC": {"value": utc}, "offset": {"value": offset}, "day": {"value": day}},
    )


# The averages' path parameters.
PathStart = Annotated[
    str,
    _path_bound("Start", "the start of that day", "2024-06-01T12:00:00Z", "2024-06-01T14:00:00+02:00", "2024-06-01"),
]
PathEnd = Annotated[
    str,
    _path_bound("End", "the whole of that day", "2024-06-01T13:00:00.500Z", "2024-06-01T15:00:00+02:00", "2024-06-02"),
]
# Query parameters of the reads.
Start = Annotated[str | None, Query(description=f"Earliest timestamp, included. {_BOUND}")]
End = Annotated[str | None, Query(description=f"Latest timestamp, included. {_BOUND}")]
RequiredStart = Annotated[str, Query(description=f"Start, included. {_BOUND}")]
RequiredEnd = Annotated[str, Query(description=f"End, included. {_BOUND}")]
Model = Annotated[str | None, Query(description="Only results of this model.")]
# Patterns and enums document the forms (and let schema-driven clients generate them); the checks
# themselves are the domain's, so that a refusal names the parameter at fault.
LABEL_FORM: dict[str, Any] = {"items": {"type": "string", "pattern": "^[^:]+:"}, "examples": [["run:a"]]}
Labels = Annotated[
    list[str],
    Query(description="key:value; repeat for several, all of which must match.", json_schema_extra=LABEL_FORM),
]
GroupBy = Annotated[
    str | None,
    Query(
        description="model, or label:<key>; results without one form the null group.",
        json_schema_extra={"pattern": "^(model|label:[^:]+)$", "examples": ["model", "label:run"]},
    ),
]


def window(start: str | None, end: str | None, names: tuple[str, str] = ("start", "end")) -> TimeWindow | None:
    """The window between two optional bounds (open where one is missing, None without either);
    `names` are the parameters that gave them, named by any refusal."""
    return _checked(_bound(names[0], start, parse_window_start), _bound(names[1], end, parse_window_end), names)


def closed_window(start: str, end: str, names: tuple[str, str] = ("start", "end")) -> TimeWindow:
    """The window between two given bounds: a date alone is the start, or the whole, of that day."""
    start_at, end_at = _bound(names[0], start, parse_window_start), _bound(names[1], end, parse_window_end)
    assert start_at is not None  # both bounds are given
    assert end_at is not None
    found = _checked(start_at, end_at, names)
    assert found is not None
    return found


def instant(name: str, text: str | None) -> datetime | None:
    """A date-time (not a date alone), or None when not given."""
    return _bound(name, text, parse_timestamp)


def labels(texts: list[str], parameter: str = "label") -> tuple[tuple[str, str], ...]:
    return parse_labels(texts, parameter)


def selection(
    start: str | None,
    end: str | None,
    model: str | None,
    label: list[str],
    prefix: str = "",
) -> ResultFilter:
    """Results in a window, of a model, carrying labels: the filter every statistic reads;
    `prefix` is the side of a comparison (`baseline_`), as the parameters spell it."""
    return ResultFilter(window(start, end, (f"{prefix}start", f"{prefix}end")), model, labels(label, f"{prefix}label"))


def grouping(text: str | None) -> Grouping | None:
    return None if text is None else Grouping.parse(text)


def metric(text: str, parameter: str = "metric") -> str:
    """One metric of STATISTIC_METRICS."""
    if text not in STATISTIC_METRICS:
        raise InvalidStatisticsQuery(parameter, f"{text!r} is none of {', '.join(STATISTIC_METRICS)}")
    return text


def metrics(requested: list[str], parameter: str = "metric") -> tuple[str, ...]:
    """Metrics given repeated or comma-separated, in the order given; all of them when none is."""
    names = [name.strip() for entry in requested for name in entry.split(",") if name.strip()]
    return tuple(dict.fromkeys(metric(name, parameter) for name in names)) or STATISTIC_METRICS


def _bound(name: str, text: str | None, parse: Callable[[str], datetime]) -> datetime | None:
    try:
        return None if text is None else parse(text)
    except InvalidTimestamp as error:
        raise InvalidParameter(name, str(error)) from None


def _checked(start: datetime | None, end: datetime | None, names: tuple[str, str]) -> TimeWindow | None:
    try:
        return TimeWindow.open(start, end)
    except InvalidTimeWindow as error:
        raise InvalidTimeWindow(error.start, error.end, names) from None
