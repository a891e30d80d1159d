"""Decoding request JSON (a body, or one line of an import): msgspec, about four times as fast as
the standard library here, with every refusal a ValueError that says why."""

from __future__ import annotations

import msgspec


def decode_json(text: bytes) -> object:
    """One JSON value (RFC 8259).

    Raises ValueError, as json.loads would, when `text` is not JSON, and also when it nests arrays
    or objects deeper than the interpreter's recursion limit allows (about 1,000 levels): msgspec
    then raises RecursionError, which must cost the sender a refusal, not the server a 500.
    """
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as error:
        raise ValueError(str(error)) from None
    except RecursionError:
        raise ValueError("arrays or objects are nested too deeply (a result nests at most 2 levels)") from None
