"""Why a text is not JSON, said in the terms of the input.

msgspec decodes (about four times as fast as the standard library here) and refuses; only then is
the text read again by the standard library, which names a line and column, and which reads what
msgspec rightly refuses (NaN, Infinity, a lone surrogate escape, a number past float64): those are
then named for what they are.
"""

from __future__ import annotations

import json

import msgspec

_OUT_OF_RANGE = "Number out of range"
"""How msgspec's refusal of a number past float64 begins."""


def why_not_json(text: bytes, refusal: msgspec.DecodeError) -> str:
    """The reason `text`, which msgspec refused with `refusal`, is not JSON (RFC 8259)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        # Some of the standard library's messages end in "at" already ("Invalid control character at").
        return f"{error.msg.removesuffix(' at')} at line {error.lineno} column {error.colno}"
    except (UnicodeDecodeError, RecursionError, ValueError):
        return str(refusal)
    if str(refusal).startswith(_OUT_OF_RANGE):
        # The standard library reads 1e400 as infinity; msgspec rightly refuses it.
        return "a number is beyond the range of a 64-bit float (about 1.8e308), which no metric can hold"
    return (
        f"{refusal}: it holds NaN, Infinity or a lone surrogate escape such as \\ud800, which JSON (RFC 8259) excludes"
    )
