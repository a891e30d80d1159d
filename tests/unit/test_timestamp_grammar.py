"""The one timestamp grammar (src/domain/timestamps.py), held to a reference written here from its
documented rules: every documented form is read as the instant it names, and nothing else is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.domain.errors import InvalidTimestamp
from src.domain.timestamps import parse_timestamp, parse_window_end, parse_window_start

_CALENDAR_START = datetime(1, 1, 1, tzinfo=UTC)
_CALENDAR_END = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@st.composite
def documented_date_times(draw: st.DrawFn) -> tuple[str, datetime | None]:
    """A date-time written in one of the documented forms, and the UTC instant it names (None when
    that instant lies outside the years 1 to 9999)."""
    local = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    local = local.replace(microsecond=0)
    separator = draw(st.sampled_from("Tt "))
    digits = draw(st.text("0123456789", min_size=1, max_size=12) | st.none())
    fraction_mark = draw(st.sampled_from(".,"))
    offset_minutes = draw(st.none() | st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))
    offset_form = draw(st.sampled_from(["Z", "z", "+HH:MM", "+HHMM"]))
    # Years below 1000 are written with four digits too, as the grammar requires.
    text = f"{local.year:04d}-{local:%m-%d}{separator}{local:%H:%M:%S}"
    seconds = Decimal(0)
    if digits is not None:
        text += fraction_mark + digits
        seconds = Decimal("0." + digits)
    offset = timedelta(0)
    if offset_minutes is not None:
        if offset_form in "Zz" and offset_minutes == 0:
            text += offset_form
        else:
            sign = "-" if offset_minutes < 0 else "+"
            hours, minutes = divmod(abs(offset_minutes), 60)
            text += f"{sign}{hours:02d}:{minutes:02d}" if offset_form == "+HH:MM" else f"{sign}{hours:02d}{minutes:02d}"
            offset = timedelta(minutes=offset_minutes)
    # Half up to the microsecond, as documented; Decimal does it exactly.
    microseconds = int((seconds * 10**6).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    utc = local - offset + timedelta(microseconds=microseconds) if _fits(local, offset, microseconds) else None
    return text, None if utc is None else utc.replace(tzinfo=UTC)


def _fits(local: datetime, offset: timedelta, microseconds: int) -> bool:
    try:
        moment = (local - offset + timedelta(microseconds=microseconds)).replace(tzinfo=UTC)
    except OverflowError:
        return False
    return _CALENDAR_START <= moment <= _CALENDAR_END


def reference_accepts(text: str) -> bool:
    """The documented grammar, checked character by character (not with the parser's pattern)."""
    if len(text) < 19 or not text.isascii():
        return False
    date, separator, clock, rest = text[:10], text[10], text[11:19], text[19:]
    shape_ok = (
        date[4] == date[7] == "-"
        and (date[:4] + date[5:7] + date[8:]).isdigit()
        and separator in "Tt "
        and clock[2] == clock[5] == ":"
        and (clock[:2] + clock[3:5] + clock[6:]).isdigit()
    )
    if not shape_ok:
        return False
    if rest[:1] in (".", ","):
        fraction = rest[1:]
        cut = len(fraction) - len(fraction.lstrip("0123456789"))
        if cut == 0:
            return False
        rest = fraction[cut:]
    if rest in ("", "Z", "z"):
        return True
    offset = rest[1:].replace(":", "", 1) if len(rest) == 6 and rest[3] == ":" else rest[1:]
    return rest[0] in "+-" and len(offset) == 4 and offset.isdigit()


@given(documented_date_times())
def test_every_documented_form_names_its_instant(case: tuple[str, datetime | None]) -> None:
    text, instant = case
    if instant is None:
        with pytest.raises(InvalidTimestamp, match="outside the years"):
            parse_timestamp(text)
        return
    assert parse_timestamp(text) == instant
    assert parse_window_start(text) == parse_window_end(text) == instant


_TIMESTAMP_ALPHABET = st.sampled_from("0123456789-:.,+TtZz W")


@given(st.text(_TIMESTAMP_ALPHABET, max_size=40) | st.text(max_size=30))
def test_nothing_outside_the_grammar_is_read(text: str) -> None:
    try:
        parse_timestamp(text)
    except InvalidTimestamp:
        return
    assert reference_accepts(text), text


@given(st.integers(min_value=1, max_value=10_000))
def test_a_run_of_digits_of_any_length_is_no_timestamp(length: int) -> None:
    digits = ("1234567890" * (length // 10 + 1))[:length]
    for parse in (parse_timestamp, parse_window_start, parse_window_end):
        with pytest.raises(InvalidTimestamp):
            parse(digits)


@pytest.mark.parametrize(
    "text",
    [
        "1" * 10_000,  # once read as 1111-11-11T11:11:11.111111Z
        "20240601T120000Z",  # basic format
        "2024-W22-1T12:00:00Z",  # week date
        "2024-153T12:00:00Z",  # ordinal date
        "2024-06-01T12:00Z",  # no seconds
        "2024-06-01T12:00:00+02",  # offset without minutes
        "2024-06-01T12:00:00.Z",  # a fraction mark without digits
        "2024-06-01T24:00:00Z",
        "2024-06-01T12:00:60Z",  # a leap second: no store holds it
        "２０２４-06-01T12:00:00Z",  # full-width digits
    ],
)
def test_forms_outside_the_grammar_are_refused(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(text)
    with pytest.raises(InvalidTimestamp):
        parse_window_start(text)


@pytest.mark.parametrize("text", ["20240601", "2024-W22-1", "2024-153", "1" * 10_000, "2024-6-1"])
def test_only_the_extended_date_is_a_date_bound(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_window_start(text)
    with pytest.raises(InvalidTimestamp):
        parse_window_end(text)


@pytest.mark.parametrize("offset", ["+99:00", "+24:00", "-2400", "+00:60", "-12:75"])
def test_an_offset_past_23_59_is_refused_in_plain_words(offset: str) -> None:
    for parse in (parse_timestamp, parse_window_start, parse_window_end):
        with pytest.raises(InvalidTimestamp) as refused:
            parse(f"2024-06-01T12:00:00{offset}")
        assert refused.value.reason == "the UTC offset must be between -23:59 and +23:59"
