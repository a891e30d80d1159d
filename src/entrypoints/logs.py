"""The process's logging: text or JSON lines on stderr, every record carrying the id of the request it belongs to.

The id lives in a context variable that the HTTP layer sets for the duration of each request
(`src/entrypoints/http/telemetry.py`), so any logger, ours or a library's, gets it without being
passed it. A record logged outside a request carries `-`.
"""

from __future__ import annotations

import logging
import random
import re
from contextvars import ContextVar
from typing import Any, Literal

from pythonjsonlogger.core import RESERVED_ATTRS

REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST = "-"
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)
ACCESS_LOGGER = "superbenchmark.access"

# A client's id is kept when it is an id and nothing more: short, and of characters that need no
# escaping in a header, a log line or a query of a log store. Anything else (spaces, quotes, control
# characters that could forge a log line, a token pasted by mistake) is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)

# Fields of a JSON line, in this order; an access line adds method, route, status and duration_ms.
_JSON_FIELDS = ["levelname", "name", "message", "request_id"]
# What a library attaches for its own terminal output, useless in a log collector.
_NOT_LOGGED = ["color_message"]


def sane_request_id(given: str | None) -> str | None:
    """`given` if it is a sane request id (1 to 128 characters of A-Z a-z 0-9 . _ : -), else None."""
    return given if given is not None and _SANE_REQUEST_ID.fullmatch(given) else None


def new_request_id() -> str:
    """A fresh request id: 32 hexadecimal digits, 128 random bits. An id tells requests apart in
    logs, it guards no secret: Python's generator (reseeded in each forked process) makes them
    without the system call that a UUID, or os.urandom, costs every request."""
    return f"{random.getrandbits(128):032x}"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record from the current request's context, unless the record names one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def log_config(log_format: Literal["text", "json"], level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` document (uvicorn's `log_config`): every logger through one
    stderr handler in `log_format`, at `level` (a logging level name, any case).

    uvicorn's access logger is silenced: it would log the raw path with its query string; the
    app's own access line (ACCESS_LOGGER) names the route template instead.
    """
    if log_format == "json":
        formatter: dict[str, Any] = {
            # Imported by name: logging configuration builds it, in each worker process.
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _JSON_FIELDS,
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
            # The LogRecord's own attributes are not copied as fields: only those named above, and extras.
            "reserved_attrs": [*RESERVED_ATTRS, *_NOT_LOGGED],
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            # uvicorn's loggers carry handlers of their own by default; here they go through ours.
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level, "handlers": [], "propagate": False},
        },
        "root": {"level": level, "handlers": ["stderr"]},
    }
