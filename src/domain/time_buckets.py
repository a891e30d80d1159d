"""Time buckets for time series: fixed widths aligned to UTC, counted from the Unix epoch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from src.domain.errors import InvalidStatisticsQuery, shown
from src.domain.time_window import EARLIEST, LATEST, TimeWindow
from src.domain.timestamps import microseconds_since_epoch

_MINUTE = 60 * 1_000_000
_DAY = 24 * 60 * _MINUTE
BUCKET_WIDTHS = {"1m": _MINUTE, "5m": 5 * _MINUTE, "15m": 15 * _MINUTE, "1h": 60 * _MINUTE, "1d": _DAY}
AUTO = "auto"
# Whole days, as `auto` names them past 200 days: an answer's bucket can be asked for again.
_WHOLE_DAYS = re.compile(r"([1-9][0-9]{0,4})d")
BUCKET_PATTERN = r"^(1m|5m|15m|1h|auto|[1-9][0-9]{0,4}d)$"
# `auto` aims at a series a chart shows at a glance; an explicit width may ask for more.
AUTO_TARGET_BUCKETS = 200
MAX_BUCKETS = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Buckets are cut at multiples of their width from the epoch, so the first and last buckets of
# the calendar may reach past it; their bounds are clamped to the instants a datetime holds.
_FIRST_INSTANT = microseconds_since_epoch(EARLIEST)
_LAST_INSTANT = microseconds_since_epoch(LATEST)


@dataclass(frozen=True, slots=True)
class Bucketing:
    """Buckets [k·width, (k+1)·width) microseconds after the epoch, for the k the window touches.

    Widths divide a day, or are whole days, so every bucket starts on a UTC minute, hour or midnight
    (N-day buckets start on multiples of N days since 1970-01-01, a Thursday). At the ends of the
    calendar a bucket's bounds are clamped to it (see start_of and end_of).
    """

    name: str
    width: int
    """Microseconds."""
    first: int
    """Index of the bucket holding the window's start."""
    last: int
    """Index of the bucket holding the window's end."""

    @classmethod
    def choose(cls, text: str, window: TimeWindow) -> Bucketing:
        """The bucketing `text` names (1m, 5m, 15m, 1h, 1d or auto) over `window`."""
        low, high = microseconds_since_epoch(window.start), microseconds_since_epoch(window.end)
        days = _WHOLE_DAYS.fullmatch(text)
        if text == AUTO:
            name, width = _auto_width(high - low + 1)
        elif text in BUCKET_WIDTHS:
            name, width = text, BUCKET_WIDTHS[text]
        elif days:
            name, width = text, int(days.group(1)) * _DAY
        else:
            raise InvalidStatisticsQuery(
                "bucket", f"{shown(text)} is none of {', '.join([*BUCKET_WIDTHS, AUTO])}, nor a number of days (7d)"
            )
        bucketing = cls(name, width, low // width, high // width)
        if bucketing.count > MAX_BUCKETS:
            raise InvalidStatisticsQuery(
                "bucket",
                f"{name} buckets cut this window into {bucketing.count}, more than {MAX_BUCKETS}; "
                "choose a wider bucket or auto",
            )
        return bucketing

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def start_of(self, index: int) -> datetime:
        """Where bucket `index` starts (included); never before the calendar's first instant."""
        return _instant(max(index * self.width, _FIRST_INSTANT))

    def end_of(self, index: int) -> datetime:
        """Where bucket `index` ends: excluded, except that a bucket reaching past the calendar's
        last instant ends at that instant, which it then includes."""
        return _instant(min((index + 1) * self.width, _LAST_INSTANT))


def _instant(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)


def _auto_width(span: int) -> tuple[str, int]:
    """The narrowest listed width giving at most about AUTO_TARGET_BUCKETS buckets; past a
    day's, a whole number of days. (A window not aligned to the width touches one bucket more.)"""
    for name, width in BUCKET_WIDTHS.items():
        if span <= AUTO_TARGET_BUCKETS * width:
            return name, width
    days = -(-span // (AUTO_TARGET_BUCKETS * _DAY))
    return f"{days}d", days * _DAY
