from datetime import UTC, datetime, timedelta, timezone

import pytest

from src.domain.errors import InvalidTimestamp
from src.domain.timestamps import (
    instants_in_microseconds,
    microseconds_since_epoch,
    parse_timestamp,
    parse_window_end,
    parse_window_start,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01T12:00:00", datetime(2024, 6, 1, 12, tzinfo=UTC)),
        ("2024-06-01T12:00:00Z", datetime(2024, 6, 1, 12, tzinfo=UTC)),
        ("2024-06-01T14:00:00+02:00", datetime(2024, 6, 1, 12, tzinfo=UTC)),
        ("2024-06-01T07:30:00-04:30", datetime(2024, 6, 1, 12, tzinfo=UTC)),
        ("2024-06-01T12:00:00.250Z", datetime(2024, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2024-06-01 12:00:00", datetime(2024, 6, 1, 12, tzinfo=UTC)),
        # "+" decoded to a space by a query-string decoder is understood as the offset it was.
        ("2024-06-01T14:00:00 02:00", datetime(2024, 6, 1, 12, tzinfo=UTC)),
    ],
)
def test_date_times_become_utc(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2024-13-01T00:00:00", "2024-06-31T00:00:00", "2024-06-01T25:00", "2024-06-01T12:00:00+25:00", "yesterday", ""],
)
def test_impossible_or_malformed_date_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidTimestamp) as refused:
        parse_timestamp(text)
    assert refused.value.text == text
    assert refused.value.reason


def test_a_result_timestamp_needs_a_time_of_day() -> None:
    with pytest.raises(InvalidTimestamp, match="time of day is required"):
        parse_timestamp("2024-06-01")


def test_a_timestamp_must_be_a_string() -> None:
    with pytest.raises(InvalidTimestamp, match="expected a string"):
        parse_timestamp(1717243200)


def test_an_offset_pushing_past_year_one_is_refused_not_crashed() -> None:
    with pytest.raises(InvalidTimestamp, match="outside the years"):
        parse_timestamp("0001-01-01T00:00:00+01:00")


def test_a_date_alone_starts_a_window_at_midnight_and_ends_it_at_the_last_microsecond() -> None:
    assert parse_window_start("2024-06-01") == datetime(2024, 6, 1, tzinfo=UTC)
    assert parse_window_end("2024-06-01") == datetime(2024, 6, 2, tzinfo=UTC) - timedelta(microseconds=1)


def test_window_bounds_accept_the_same_date_times_as_timestamps() -> None:
    assert parse_window_start("2024-06-01T14:00:00+02:00") == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert parse_window_end("2024-06-01T12:00:00") == datetime(2024, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2024-13-01", "2024-06-31", "T25:00", "2024-06-01T24:30:00"])
def test_impossible_window_bounds_are_refused(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_window_start(text)
    with pytest.raises(InvalidTimestamp):
        parse_window_end(text)


def test_the_last_day_of_the_calendar_still_ends_a_window() -> None:
    assert parse_window_end("9999-12-31") == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01T12:00:00.1234564Z", datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2024-06-01T12:00:00.1234565Z", datetime(2024, 6, 1, 12, 0, 0, 123457, tzinfo=UTC)),
        ("2024-06-01T12:00:00.999999999Z", datetime(2024, 6, 1, 12, 0, 1, tzinfo=UTC)),
        ("2024-06-01t12:00:00z", datetime(2024, 6, 1, 12, tzinfo=UTC)),
    ],
)
def test_finer_fractions_round_to_the_nearest_microsecond_and_letters_may_be_lower_case(
    text: str, expected: datetime
) -> None:
    assert parse_timestamp(text) == expected


def test_rounding_past_the_last_microsecond_of_the_calendar_is_refused_saying_so() -> None:
    with pytest.raises(InvalidTimestamp, match="rounded to the microsecond, it falls after the year 9999"):
        parse_timestamp("9999-12-31T23:59:59.9999995Z")
    assert parse_timestamp("9999-12-31T23:59:59.9999994Z") == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_many_instants_become_microseconds_naive_ones_meaning_utc() -> None:
    moments = [
        datetime(1970, 1, 1, 0, 0, 1),
        datetime(1970, 1, 1, 2, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
    ]
    assert instants_in_microseconds(moments) == [1_000_000, 5]
    assert microseconds_since_epoch(datetime(1970, 1, 1, 0, 0, 0, 7, tzinfo=UTC)) == 7


def test_an_instant_outside_the_calendar_in_utc_is_refused_in_bulk_too() -> None:
    with pytest.raises(InvalidTimestamp, match="outside the years"):
        instants_in_microseconds([datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))])
