"""Named domain errors. Each carries the offending values; none knows about HTTP."""

from __future__ import annotations

import reprlib
from datetime import datetime


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxdict, _SHOWN.maxlist, _SHOWN.maxstring, _SHOWN.maxother = 3, 4, 4, 200, 200


def shown(value: object, limit: int = 80) -> str:
    """A value as it appears in a message: its repr, cut short so a huge input cannot flood a reply.

    Containers are shown a few levels and items deep (reprlib): a value nested thousands deep, or
    a million items long, costs no more to show than a small one, and never recurses past Python's limit.
    """
    text = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else _SHOWN.repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-1]}"


class InvalidTimestamp(DomainError):
    def __init__(self, text: object, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"{shown(text)} is not a valid ISO 8601 date-time: {reason}")


class InvalidTimeWindow(DomainError):
    """The end comes before the start; `parameters` name the two bounds as the request gave them
    (start_time and end_time, baseline_start and baseline_end, ...), when it named them."""

    def __init__(self, start: datetime, end: datetime, parameters: tuple[str, str] = ("start", "end")) -> None:
        self.start = start
        self.end = end
        self.parameters = parameters
        first, last = parameters
        super().__init__(
            f"the window ends before it starts: {first} {start.isoformat()} is after {last} {end.isoformat()}"
        )


class InvalidResult(DomainError):
    """A benchmark result breaks a field rule; `index` and `request_id` locate it in a batch or file."""

    def __init__(
        self,
        field: str | None,
        reason: str,
        *,
        index: int | None = None,
        request_id: object = None,
    ) -> None:
        self.field = field
        self.reason = reason
        self.index = index
        self.request_id = request_id
        super().__init__(self._describe())

    def at(self, index: int, request_id: object) -> InvalidResult:
        """The same error, located at a position in a batch or file."""
        return InvalidResult(self.field, self.reason, index=index, request_id=request_id)

    def _describe(self) -> str:
        where = []
        if self.index is not None:
            where.append(f"result at index {self.index}")
        if isinstance(self.request_id, str) and self.request_id:
            where.append(f"request_id {shown(self.request_id)}")
        place = f"{' '.join(where)}: " if where else ""
        subject = f"{self.field} " if self.field else ""
        return f"{place}{subject}{self.reason}"


class DuplicateRequestId(DomainError):
    def __init__(self, request_id: str, first_index: int, second_index: int) -> None:
        self.request_id = request_id
        self.first_index = first_index
        self.second_index = second_index
        super().__init__(
            f"request_id {shown(request_id)} appears twice, at index {first_index} and at index {second_index}"
        )


class ProductionStoreNotConfigured(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "no production database is configured: set SUPERBENCHMARK_DATABASE_URL "
            "(postgresql://... or sqlite:///path), or SUPERBENCHMARK_DEBUG=true to serve the JSON data file"
        )


class InvalidResults(DomainError):
    """A batch holds invalid results; each error is located by index and request_id. Nothing was stored."""

    def __init__(self, errors: list[InvalidResult]) -> None:
        self.errors = errors
        listed = "; ".join(str(error) for error in errors[:_LISTED_IN_MESSAGE])
        more = f"; and {len(errors) - _LISTED_IN_MESSAGE} more" if len(errors) > _LISTED_IN_MESSAGE else ""
        super().__init__(f"{len(errors)} invalid result(s), nothing was stored: {listed}{more}")


_LISTED_IN_MESSAGE = 5


class ResultConflict(DomainError):
    """Results reuse request_ids that already name results with other content. Nothing was stored."""

    def __init__(self, request_ids: list[str]) -> None:
        self.request_ids = request_ids
        listed = ", ".join(shown(request_id) for request_id in request_ids[:_LISTED_IN_MESSAGE])
        super().__init__(
            f"{len(request_ids)} request_id(s) already name a different result: {listed}; "
            "a stored result never changes, so send it under a new request_id"
        )


class ResultNotFound(DomainError):
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        super().__init__(f"no result has request_id {shown(request_id)}")


class StoreIsReadOnly(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "the DEBUG store serves the JSON data file and takes no writes; "
            "set SUPERBENCHMARK_DEBUG=false and SUPERBENCHMARK_DATABASE_URL to store results"
        )


class StoreUnavailable(DomainError):
    """The store cannot answer now (its database is unreachable or behind the code); it may recover."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"database unavailable: {reason}")


class InvalidPageCursor(DomainError):
    def __init__(self, cursor: str) -> None:
        self.cursor = cursor
        super().__init__(f"cursor {shown(cursor)} is not one this service handed out; start again without it")


class InvalidParameter(DomainError):
    """A question is malformed; `parameter` names the part at fault (start, percentiles, bucket, ...)."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


class InvalidStatisticsQuery(InvalidParameter):
    """A statistics question is malformed: its metric, bucket, grouping, percentiles, bins..."""


class WindowTooLarge(DomainError):
    """Answering would read more results than one request may: a bound on time and memory per request."""

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(
            f"the window holds {count} results and this request may read at most {limit} "
            "(SUPERBENCHMARK_MAX_STATISTICS_RESULTS; a comparison a quarter of it, across both sides); "
            "narrow the window, or follow it with /results/timeseries over shorter windows"
        )


class EmptySample(DomainError):
    """A comparison side selects no result, so there is nothing to compare."""

    def __init__(self, side: str) -> None:
        self.side = side
        super().__init__(f"the {side} selects no result; widen its window or check its labels")


class UnreadableFile(DomainError):
    """A tool's file cannot be read as the format it was taken for: nothing of it is stored."""

    def __init__(self, file_format: str, reason: str) -> None:
        self.file_format = file_format
        self.reason = reason
        super().__init__(f"cannot read the file as {file_format}: {reason}")


class MissingImportOption(DomainError):
    """An import needs a setting its files cannot supply (`parameter` names it)."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


class RunNotFound(DomainError):
    def __init__(self, run: str) -> None:
        self.run = run
        super().__init__(f"no result is labelled run {shown(run)}")
