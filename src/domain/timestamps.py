"""ISO 8601 parsing shared by result timestamps and window bounds; every instant becomes UTC.

One strict grammar, the ISO 8601 extended format that RFC 3339 profiles (section 5.6), read whole:

    date       = YYYY "-" MM "-" DD                       (window bounds only)
    date-time  = date ("T" / "t" / " ") HH ":" MM ":" SS [("." / ",") 1*DIGIT] [offset]
    offset     = "Z" / "z" / ("+" / "-") HH [":"] MM

Digits are ASCII. Hours run 00 to 23, seconds 00 to 59 (no leap second, which no store can hold),
offsets up to 23:59. A date-time without an offset means UTC. Fractions finer than a microsecond
are rounded to the nearest microsecond, half up. Anything else (basic format, week or ordinal
dates, a bare number, a time without seconds) is refused, whatever Python's own parser accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from src.domain.errors import InvalidTimestamp

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_UNIX_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
# The calendar's first and last instants (years 1 to 9999, UTC) in microseconds since the epoch.
EARLIEST_MICROSECONDS = (datetime.min.replace(tzinfo=UTC) - _UNIX_EPOCH) // _MICROSECOND
LATEST_MICROSECONDS = (datetime.max.replace(tzinfo=UTC) - _UNIX_EPOCH) // _MICROSECOND
_OUTSIDE_THE_CALENDAR = "outside the years 1 to 9999 once converted to UTC"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_FORM = "expected a form like 2024-06-01T12:00:00Z or 2024-06-01T14:00:00.250+02:00"

# A numeric UTC offset at the end of a date-time that the grammar let through.
_OFFSET = re.compile(r"[+-](\d{2}):?(\d{2})$", re.ASCII)
_OFFSET_RANGE = "the UTC offset must be between -23:59 and +23:59"

# The digit after the microseconds decides the rounding.
_SEVENTH_FRACTION_DIGIT = re.compile(r"[.,]\d{6}(\d)")

# A query-string style decoder turns a raw "+" into a space; a trailing " HH:MM" after a time
# can only have been a positive UTC offset, so it is put back.
_PLUS_DECODED_AS_SPACE = re.compile(r"(?<=\d) (?=\d{2}(:?\d{2})?$)")


def parse_timestamp(text: object) -> datetime:
    """An ISO 8601 date-time as an aware UTC datetime."""
    if not isinstance(text, str):
        raise InvalidTimestamp(text, "expected a string")
    if _as_date(text) is not None:
        raise InvalidTimestamp(text, "a time of day is required, e.g. 2024-06-01T12:00:00Z")
    return _parse_date_time(text)


def parse_window_start(text: str) -> datetime:
    """A window's start: a date-time, or a date meaning the start of that day (UTC)."""
    return _parse_bound(text, time.min)


def parse_window_end(text: str) -> datetime:
    """A window's end: a date-time, or a date meaning the whole of that day (UTC)."""
    # Timestamps carry microseconds at most, so the day's last microsecond closes the day.
    return _parse_bound(text, time.max)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive date-time already means UTC."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidTimestamp(moment.isoformat(), _OUTSIDE_THE_CALENDAR) from None


def microseconds_since_epoch(moment: datetime) -> int:
    """An aware instant as whole microseconds since 1970-01-01T00:00:00Z: exact, and cheap to compare."""
    return (moment - _UNIX_EPOCH) // _MICROSECOND


def instants_in_microseconds(moments: Iterable[datetime]) -> list[int]:
    """Many date-times, naive ones meaning UTC, as microseconds since the epoch, in one cheap pass.

    Subtracting aware datetimes already compares instants, so nothing is converted to UTC; an
    instant outside the calendar once in UTC is refused, as parse_timestamp refuses it.
    """
    microseconds = [
        (moment - (_NAIVE_UNIX_EPOCH if moment.tzinfo is None else _UNIX_EPOCH)) // _MICROSECOND for moment in moments
    ]
    if microseconds:
        earliest, latest = min(microseconds), max(microseconds)
        if earliest < EARLIEST_MICROSECONDS or latest > LATEST_MICROSECONDS:
            outlier = earliest if earliest < EARLIEST_MICROSECONDS else latest
            raise InvalidTimestamp(f"{outlier} microseconds from 1970-01-01T00:00:00Z", _OUTSIDE_THE_CALENDAR)
    return microseconds


def _parse_bound(text: str, time_of_day: time) -> datetime:
    day = _as_date(text)
    if day is not None:
        return datetime.combine(day, time_of_day, tzinfo=UTC)
    return _parse_date_time(text)


def _parse_date_time(text: str) -> datetime:
    moment = _from_iso_format(text)
    seventh_digit = _SEVENTH_FRACTION_DIGIT.search(text)
    if seventh_digit and seventh_digit.group(1) >= "5":
        try:
            moment += _MICROSECOND
        except OverflowError:
            raise InvalidTimestamp(text, "rounded to the microsecond, it falls after the year 9999") from None
    try:
        return as_utc(moment)
    except (OverflowError, InvalidTimestamp):
        raise InvalidTimestamp(text, _OUTSIDE_THE_CALENDAR) from None


def _from_iso_format(text: str) -> datetime:
    # The grammar decides what is accepted; Python's parser, which accepts far more (a bare run
    # of digits among them), only builds what the grammar let through.
    normalized = text
    if _DATE_TIME.fullmatch(normalized) is None:
        normalized = _PLUS_DECODED_AS_SPACE.sub("+", text.strip())
        if _DATE_TIME.fullmatch(normalized) is None:
            raise InvalidTimestamp(text, _FORM)
    if normalized.endswith("z"):
        normalized = normalized[:-1] + "Z"
    offset = _OFFSET.search(normalized)
    # Checked here: Python's own message for it names its timedelta objects.
    if offset is not None and (int(offset.group(1)) > 23 or int(offset.group(2)) > 59):
        raise InvalidTimestamp(text, _OFFSET_RANGE)
    try:
        return datetime.fromisoformat(normalized)
    except ValueError as error:
        # Well formed, but a field is out of its range: "month must be in 1..12", ...
        raise InvalidTimestamp(text, str(error)) from None


def _as_date(text: str) -> date | None:
    if _DATE.fullmatch(text) is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise InvalidTimestamp(text, str(error)) from None
