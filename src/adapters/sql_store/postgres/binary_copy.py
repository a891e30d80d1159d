"""PostgreSQL's binary COPY format for rows of fixed-width columns, laid out and read by numpy.

A binary COPY stream is a 19-byte header ("PGCOPY\\n\\377\\r\\n\\0", 32-bit flags, 32-bit header
extension length), then per row a 16-bit field count and per field a 32-bit length and the
value in network byte order, then a 16-bit -1 (PostgreSQL's documentation, COPY, "Binary
Format"). When no field is NULL and every field has a fixed width, every row has one layout:
a numpy record type, so a whole batch is written or read without a loop over rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""The signature, then no flags and no header extension."""
TRAILER = b"\xff\xff"
"""A field count of -1: the end of the rows."""

Rows = npt.NDArray[np.void]


def row_type(fields: Sequence[tuple[str, str]]) -> np.dtype[Any]:
    """The record type of a row of `fields`, (name, big-endian numpy type such as ">i8"), each
    preceded by its length as COPY writes it (`<name>_length`), after the field count (`fields`)."""
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    for name, kind in fields:
        layout += [(f"{name}_length", ">i4"), (name, kind)]
    return np.dtype(layout)


def empty_rows(count: int, kind: np.dtype[Any]) -> Rows:
    """`count` rows of `kind` (from row_type), their field count and lengths filled in."""
    rows = np.empty(count, kind)
    names = [name for name in kind.names or () if name != "fields" and not name.endswith("_length")]
    rows["fields"] = len(names)
    for name in names:
        rows[f"{name}_length"] = kind.fields[name][0].itemsize  # type: ignore[index]
    return rows


def encoded(parts: Iterable[Rows]) -> bytes:
    """A whole COPY stream of the rows of `parts`, in order. Joined as bytes: np.concatenate would
    turn the fields to the machine's byte order."""
    return b"".join([HEADER, *(part.tobytes() for part in parts), TRAILER])


def decoded(data: bytes | bytearray, kind: np.dtype[Any]) -> Rows:
    """The rows of a COPY stream whose every row is of `kind` (a view of `data`, not a copy)."""
    count = (len(data) - len(HEADER) - len(TRAILER)) // kind.itemsize
    return np.frombuffer(data, kind, count, len(HEADER))
