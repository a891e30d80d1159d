"""ISO 8601 parsing shared by result timestamps and window bounds; every instant becomes UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from src.domain.errors import InvalidTimestamp

# "2024-W22-1" and "2024-06-01" are the longest date-only forms; every date-time is longer, so
# longer texts skip the (exception-raising, hence slow) date-only check.
_LONGEST_DATE = 10

# A query-string style decoder turns a raw "+" into a space; a trailing " HH:MM" after a time
# can only have been a positive UTC offset, so it is put back.
_PLUS_DECODED_AS_SPACE = re.compile(r"(?<=\d) (?=\d{2}(:?\d{2})?$)")


def parse_timestamp(text: object) -> datetime:
    """An ISO 8601 date-time as an aware UTC datetime; without an offset it already means UTC."""
    if not isinstance(text, str):
        raise InvalidTimestamp(text, "expected a string")
    moment = _parse_datetime(text)
    if len(text) <= _LONGEST_DATE and _as_date(text) is not None:
        raise InvalidTimestamp(text, "a time of day is required, e.g. 2024-06-01T12:00:00Z")
    return _to_utc(text, moment)


def parse_window_start(text: str) -> datetime:
    """A window's start: a date-time, or a date meaning the start of that day (UTC)."""
    day = _as_date(text)
    if day is not None:
        return datetime.combine(day, time.min, tzinfo=UTC)
    return _to_utc(text, _parse_datetime(text))


def parse_window_end(text: str) -> datetime:
    """A window's end: a date-time, or a date meaning the whole of that day (UTC)."""
    day = _as_date(text)
    if day is not None:
        # Timestamps carry microseconds at most, so the day's last microsecond closes the day.
        return datetime.combine(day, time.max, tzinfo=UTC)
    return _to_utc(text, _parse_datetime(text))


def _parse_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        repaired = _PLUS_DECODED_AS_SPACE.sub("+", text.strip())
        if repaired != text:
            try:
                return datetime.fromisoformat(repaired)
            except ValueError:
                pass
        raise InvalidTimestamp(text, _reason(error)) from None


def _to_utc(text: str, moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    if moment.tzinfo is UTC:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidTimestamp(text, "outside the years 1 to 9999 once converted to UTC") from None


def _as_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _reason(error: ValueError) -> str:
    message = str(error)
    if message.startswith("Invalid isoformat string"):
        return "expected a form like 2024-06-01T12:00:00Z or 2024-06-01T14:00:00+02:00"
    return message
