"""CSV answers for clients that ask for them (Accept: text/csv), shaped for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

from fastapi import Request
from fastapi.responses import Response

CSV_MEDIA_TYPE = "text/csv"
_JSON_MEDIA_TYPE = "application/json"
# A spreadsheet would run a text cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a CSV as UTF-8 only when it starts with a byte order mark.
_UTF8_BOM = "\ufeff"

CSV_RESPONSE = {CSV_MEDIA_TYPE: {"schema": {"type": "string", "description": "A header row, then one row per line."}}}


def wants_csv(request: Request) -> bool:
    """Whether the Accept header prefers text/csv to JSON (JSON wins ties and is the default)."""
    weights = {_JSON_MEDIA_TYPE: 0.0, CSV_MEDIA_TYPE: 0.0}
    for media_range in request.headers.get("accept", "").split(","):
        media_type, *parameters = (part.strip() for part in media_range.split(";"))
        weight = _weight(parameters)
        if weight == 0:
            continue  # q=0 means "not acceptable" (RFC 9110, section 12.4.2): it prefers nothing
        for offered, best in weights.items():
            if media_type.lower() in (offered, offered.split("/")[0] + "/*", "*/*"):
                # A type named outright outranks a wildcard of the same weight.
                specific = media_type.lower() == offered
                weights[offered] = max(best, weight + (0.0001 if specific else 0))
    return weights[CSV_MEDIA_TYPE] > weights[_JSON_MEDIA_TYPE]


def _weight(parameters: Sequence[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0  # a malformed weight counts as unacceptable, not as a preference
    return 1.0


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[object]], filename: str, headers: Mapping[str, str] | None = None
) -> Response:
    """RFC 4180 CSV (CRLF line ends), UTF-8 with a byte order mark; nulls are empty cells."""
    buffer = io.StringIO()
    buffer.write(_UTF8_BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return Response(
        buffer.getvalue().encode(),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8; header=present",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Vary": "Accept", **(headers or {})},
    )


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value  # shown as text, never evaluated
    return value
