"""A request body's JSON: every refusal says why, in the terms of the input."""

from __future__ import annotations

import pytest

from src.entrypoints.http.json_body import decode_json


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1.5e309"])
def test_a_number_past_float64_is_named_as_such(number: bytes) -> None:
    with pytest.raises(ValueError, match="beyond the range of a 64-bit float") as refused:
        decode_json(b'{"request_id": "a", "total_generation_time": ' + number + b"}")
    assert "NaN" not in str(refused.value)


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b'"\\ud800"'])
def test_what_json_excludes_is_named(value: bytes) -> None:
    with pytest.raises(ValueError, match="NaN, Infinity or a lone surrogate"):
        decode_json(b'{"a": ' + value + b"}")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": "x\ny"}', "Invalid control character at line 1 column 9"),
        (b'{"a": "xy', "Unterminated string starting at line 1 column 7"),
    ],
)
def test_a_parser_message_ending_in_at_is_not_doubled(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_json(body)
