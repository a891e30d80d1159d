"""Keyset cursors: a page's last key (an instant and a name), opaque to clients.

The next page starts right after the key however many rows arrive meanwhile. A cursor this
service did not hand out is refused with InvalidPageCursor, on every store alike.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import msgspec

from src.domain.benchmark_result import storable_text
from src.domain.errors import InvalidPageCursor, InvalidTimestamp
from src.domain.timestamps import parse_timestamp


def iso_utc(moment: datetime) -> str:
    """An aware UTC instant as ISO 8601 with a Z."""
    return moment.isoformat().replace("+00:00", "Z")


def encode_cursor(moment: datetime, name: str) -> str:
    """The cursor of the key (moment, name): URL-safe base64 of a JSON pair, unpadded."""
    return base64.urlsafe_b64encode(msgspec.json.encode([iso_utc(moment), name])).decode().rstrip("=")


_KEY = msgspec.json.Decoder(tuple[str, str])
"""A cursor's JSON, read as the pair of strings encode_cursor writes: anything else is refused at
its first wrong byte (a value nested a thousand deep, read untyped, exhausted the recursion limit)."""


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The key a cursor holds; InvalidPageCursor for anything encode_cursor did not write."""
    try:
        moment, name = _KEY.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # A name no result can hold was never handed out; every store refuses it alike.
        if not name or not storable_text(name):
            raise InvalidPageCursor(cursor)
        return parse_timestamp(moment), name
    except (binascii.Error, msgspec.DecodeError, ValueError, TypeError, InvalidTimestamp):
        raise InvalidPageCursor(cursor) from None
