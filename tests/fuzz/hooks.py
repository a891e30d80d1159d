"""schemathesis hooks for `make fuzz`: NDJSON bodies, which it cannot write by itself, and the kinds
of input an attacker sends that a schema never generates: NUL and other unstorable characters,
dates at the ends of the calendar, numbers posing as timestamps, and JSON nested thousands deep."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st

# An import line the serializer below writes as JSON nested 100,000 deep: too deep for any
# encoder to build from a Python value, so it is written as bytes.
DEEP_LINE = "deeply nested line"
_DEEP = b"[" * 100_000 + b"]" * 100_000

HOSTILE_TEXTS = st.sampled_from(
    [
        "a\x00b",
        "\x00",
        "k:a\x00b",
        "a\x00b:v",
        "label:a\x00b",
        "0001-01-01",
        "9999-12-31",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59.9999999Z",
        "1" * 10_000,
    ]
)
# Query values may also name what a path would read as another route; a path parameter may not,
# since "stats", ".." or "/" there make another request (GET /results/stats), not a hostile one.
HOSTILE_QUERY_TEXTS = HOSTILE_TEXTS | st.sampled_from(["stats", "..", "a/b", "%2F"])


def _one_replaced(
    values: dict[str, Any] | None, texts: st.SearchStrategy[str]
) -> st.SearchStrategy[dict[str, Any] | None]:
    """The values as generated, or with one of their single values swapped for a hostile text.

    A repeatable parameter (a list) keeps its generated items: a bare text in its place is a
    request of another shape than the schema's, which schemathesis would judge as schema-violating
    data that must be refused, though the text itself (a valid key:value label) rightly is not."""
    single = sorted(name for name, value in (values or {}).items() if not isinstance(value, list))
    if not values or not single:
        return st.just(values)
    swapped = st.tuples(st.sampled_from(single), texts).map(lambda pair: {**values, pair[0]: pair[1]})
    return st.just(values) | swapped


@schemathesis.hook
def flatmap_query(_context: Any, query: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
    return _one_replaced(query, HOSTILE_QUERY_TEXTS)


@schemathesis.hook
def flatmap_path_parameters(
    _context: Any, parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    return _one_replaced(parameters, HOSTILE_TEXTS)


@schemathesis.hook
def flatmap_body(_context: Any, body: Any) -> st.SearchStrategy[Any]:
    if isinstance(body, (bytes, bytearray)):
        return st.just(body)  # a raw body is sent as it is; only JSON values are nested
    # Deep, but within what a Python encoder can write: the server must refuse it as no result.
    nested: Any = body
    for _ in range(300):
        nested = [nested]
    hostile = [nested, [body, DEEP_LINE] if isinstance(body, list) else [body, DEEP_LINE, body]]
    return st.just(body) | st.sampled_from(hostile)


@schemathesis.serializer("application/x-ndjson")
def ndjson(_context: Any, value: Any) -> bytes:
    lines = value if isinstance(value, list) else [value]
    return b"".join((_DEEP if line == DEEP_LINE else json.dumps(line).encode()) + b"\n" for line in lines)
