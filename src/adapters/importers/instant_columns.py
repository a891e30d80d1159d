"""Many timestamps at once: the shapes tools write most, read by numpy, everything else left to the domain.

A bulk import reads a timestamp per request; parse_timestamp costs some 2 us each in Python.
Here the usual RFC 3339 shapes are recognised byte by byte over the whole column by numpy,
and each distinct date is read once by Python's own calendar (`date.fromisoformat`, which
checks month and day lengths, leap years included):

    YYYY-MM-DDTHH:MM:SS[.fff|.ffffff][Z|+HH:MM|-HH:MM]

Any other spelling (a space or lower-case t, a comma, another number of fraction digits,
an offset without its colon, a leap second, a day the calendar lacks) is marked unread, and its
reader sends it through parse_timestamp: the one grammar decides what is accepted and how.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt

from src.domain.timestamps import EARLIEST_MICROSECONDS, LATEST_MICROSECONDS

_WIDTH = 32
_HEAD = 19  # YYYY-MM-DDTHH:MM:SS
_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_PUNCTUATION = {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":"}
_MICROSECONDS_PER_DIGITS = {3: 1_000, 6: 1}


def read_instants(texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Each text's instant in microseconds since 1970-01-01T00:00:00Z, and whether it was read;
    an unread text's microseconds are 0 and mean nothing. What is read is exactly what
    parse_timestamp gives for the text (its property test holds this to it)."""
    count = len(texts)
    microseconds, read = np.zeros(count, np.int64), np.zeros(count, bool)
    joined = "".join(texts)
    # Only ASCII fits the byte matrix; a NUL would vanish at the end of numpy's fixed-width bytes.
    if not count or not joined.isascii() or "\x00" in joined:
        return microseconds, read
    lengths = np.fromiter(map(len, texts), np.int64, count)
    raw = np.array(texts, dtype=f"S{_WIDTH}")
    byte = raw.view(np.uint8).reshape(count, _WIDTH).astype(np.int32)
    digit = (byte >= ord("0")) & (byte <= ord("9"))
    value = byte - ord("0")

    def number(first: int, width: int) -> npt.NDArray[np.int32]:
        total = np.zeros(count, np.int32)
        for position in range(first, first + width):
            total = total * 10 + value[:, position]
        return total

    shaped = (lengths <= _WIDTH) & digit[:, _DIGITS].all(axis=1)
    for position, mark in _PUNCTUATION.items():
        shaped &= byte[:, position] == ord(mark)
    # Hours to 23, minutes and seconds to 59 (no leap second); year 0 is before the calendar.
    shaped &= (number(11, 2) <= 23) & (value[:, 14] <= 5) & (value[:, 17] <= 5) & (number(0, 4) >= 1)
    offset_minutes = np.zeros(count, np.int64)
    fraction = np.zeros(count, np.int64)
    for digits in (0, *_MICROSECONDS_PER_DIGITS):
        start = _HEAD if digits == 0 else _HEAD + 1 + digits
        if digits:
            with_fraction = (byte[:, _HEAD] == ord(".")) & digit[:, _HEAD + 1 : start].all(axis=1)
        else:
            with_fraction = np.ones(count, bool)
        bare = lengths == start
        zulu = (lengths == start + 1) & (byte[:, min(start, _WIDTH - 1)] == ord("Z"))
        offset = _offsets(byte, digit, value, start, lengths)
        here = shaped & with_fraction & (bare | zulu | offset[0])
        if digits:
            fraction[here] = number(_HEAD + 1, digits)[here] * _MICROSECONDS_PER_DIGITS[digits]
        offset_minutes[here & offset[0]] = offset[1][here & offset[0]]
        read |= here
    if not read.any():
        return microseconds, read
    # The calendar is Python's: each distinct date once (a block holds a few days, a year at
    # most 366), as days since 1970-01-01; a date it refuses (February 30th) leaves its texts unread.
    days_of = _days_since_epoch({text[:10] for text, was_read in zip(texts, read.tolist(), strict=True) if was_read})
    days = np.fromiter((days_of.get(text[:10], _NO_DAY) for text in texts), np.int64, count)
    read &= days != _NO_DAY
    days[~read] = 0  # nothing read there; kept from overflowing below
    seconds = days * 86_400 + number(11, 2) * 3_600 + number(14, 2) * 60 + number(17, 2)
    instants = seconds * 1_000_000 + fraction - offset_minutes * 60_000_000
    read &= (instants >= EARLIEST_MICROSECONDS) & (instants <= LATEST_MICROSECONDS)
    microseconds[read] = instants[read]
    return microseconds, read


_NO_DAY = np.iinfo(np.int64).min
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _days_since_epoch(dates: set[str]) -> dict[str, int]:
    """Each YYYY-MM-DD text that names a day of the calendar, as days since 1970-01-01."""
    days = {}
    for text in dates:
        try:
            days[text] = date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            continue
    return days


def _offsets(
    byte: npt.NDArray[np.int32],
    digit: npt.NDArray[np.bool_],
    value: npt.NDArray[np.int32],
    start: int,
    lengths: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32]]:
    """Where a text ends in +HH:MM or -HH:MM at `start` (hours to 23, minutes to 59), and that
    offset in minutes east of UTC."""
    if start + 6 > _WIDTH:
        return np.zeros(len(byte), bool), np.zeros(len(byte), np.int32)
    sign = byte[:, start]
    hours = value[:, start + 1] * 10 + value[:, start + 2]
    minutes = value[:, start + 4] * 10 + value[:, start + 5]
    found = (
        (lengths == start + 6)
        & ((sign == ord("+")) | (sign == ord("-")))
        & digit[:, [start + 1, start + 2, start + 4, start + 5]].all(axis=1)
        & (byte[:, start + 3] == ord(":"))
        & (hours <= 23)
        & (minutes <= 59)
    )
    return found, np.where(sign == ord("-"), -1, 1) * (hours * 60 + minutes)
