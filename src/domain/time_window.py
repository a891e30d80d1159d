"""The TimeWindow value object: an inclusive span of UTC instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from src.domain.errors import InvalidTimeWindow
from src.domain.timestamps import parse_window_end, parse_window_start

# The bounds of an open window: the first and last instants a datetime holds.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """start <= end; both bounds are included."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end < self.start:
            raise InvalidTimeWindow(self.start, self.end)

    @classmethod
    def parse(cls, start: str, end: str) -> TimeWindow:
        """A window from two ISO 8601 bounds; a date alone covers that whole day."""
        return cls(parse_window_start(start), parse_window_end(end))

    @classmethod
    def parse_open(cls, start: str | None, end: str | None) -> TimeWindow | None:
        """A window whose missing bound is open (the earliest or latest instant); None if both are missing."""
        return cls.open(
            None if start is None else parse_window_start(start), None if end is None else parse_window_end(end)
        )

    @classmethod
    def open(cls, start: datetime | None, end: datetime | None) -> TimeWindow | None:
        """A window whose missing bound is open; None if both are missing."""
        if start is None and end is None:
            return None
        return cls(EARLIEST if start is None else start, LATEST if end is None else end)

    @property
    def open_start(self) -> bool:
        return self.start == EARLIEST

    @property
    def open_end(self) -> bool:
        return self.end == LATEST

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end
