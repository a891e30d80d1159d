from datetime import UTC, datetime

import pytest

from src.domain.errors import InvalidTimeWindow
from src.domain.time_window import TimeWindow


def test_both_bounds_are_included() -> None:
    window = TimeWindow.parse("2024-06-01T12:00:00Z", "2024-06-01T13:00:00Z")
    assert datetime(2024, 6, 1, 12, tzinfo=UTC) in window
    assert datetime(2024, 6, 1, 13, tzinfo=UTC) in window
    assert datetime(2024, 6, 1, 13, 0, 0, 1, tzinfo=UTC) not in window


def test_a_single_instant_is_a_window() -> None:
    window = TimeWindow.parse("2024-06-01T12:00:00Z", "2024-06-01T12:00:00Z")
    assert window.start == window.end


def test_a_reversed_window_is_refused_with_both_bounds() -> None:
    with pytest.raises(InvalidTimeWindow) as refused:
        TimeWindow.parse("2024-06-02T00:00:00Z", "2024-06-01T00:00:00Z")
    assert refused.value.start == datetime(2024, 6, 2, tzinfo=UTC)
    assert refused.value.end == datetime(2024, 6, 1, tzinfo=UTC)
    assert "ends before it starts" in str(refused.value)


def test_bounds_with_different_offsets_compare_as_instants() -> None:
    window = TimeWindow.parse("2024-06-01T14:00:00+02:00", "2024-06-01T12:00:00Z")
    assert window.start == window.end


def test_naive_bounds_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeWindow(datetime(2024, 6, 1), datetime(2024, 6, 2))
