"""Bounds on what one HTTP client may hold of the server: how many connections, and for how long it may stall.

uvicorn closes an idle keep-alive connection, but a connection that sends part of a request line or
of its headers and then nothing stays open for good, and so does one that stops in the middle of a
body; its `limit_concurrency` answers 503 only once headers are parsed. One client could therefore
hold every file descriptor of the process. `limited_protocol(limits)` returns a subclass of uvicorn's
httptools protocol, for `uvicorn.run(..., http=...)`, that adds four bounds (times in seconds,
measured on the event loop's monotonic clock):

- `header_timeout`: a connection must complete its request line and headers within this long of
  being accepted, or of the answer to its previous request on a keep-alive connection. Trickling
  bytes does not extend it: the deadline is fixed when the clock starts.
- `body_idle_timeout`: while the server waits for more of a request body, this long without a byte
  closes the connection. The clock runs only while the client is the one holding things up: not
  while reading is paused by flow control (the app has not taken what arrived; a slowly read
  import is never cut), and not while an `Expect: 100-continue` client waits for the app to ask.
- `max_connections`: connections open at once in this process; beyond it, a new connection is
  closed as soon as it is accepted, before anything is read from it or allocated for it.
- `max_connections_per_client`: the same per client IP address; 0 means no such cap (behind a
  reverse proxy every client has the proxy's address).

`python -m src.entrypoints.serve` takes the bounds from the settings. uvicorn's own command line,
needed for several workers, takes them too with `--http src.entrypoints.connection_limits:from_settings`;
each worker process then counts its own connections.

A connection past a timeout is aborted rather than closed, so that a client that is not reading
either cannot keep it open by leaving our last answer unsent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from src.entrypoints.settings import Settings, load_settings

logger = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds described in the module docstring: seconds for the timeouts, counts for the caps."""

    header_timeout: float
    body_idle_timeout: float
    max_connections: int
    max_connections_per_client: int
    """0: no cap per client address."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout_seconds,
            body_idle_timeout=settings.body_idle_timeout_seconds,
            max_connections=settings.max_connections,
            max_connections_per_client=settings.max_connections_per_client,
        )


class OpenConnections:
    """The connections one server holds now: in all, and per client address (addresses with none are dropped)."""

    def __init__(self) -> None:
        self.total = 0
        self.by_client: dict[str, int] = {}

    def admits(self, address: str | None, limits: ConnectionLimits) -> bool:
        if self.total >= limits.max_connections:
            return False
        cap = limits.max_connections_per_client
        return not cap or address is None or self.by_client.get(address, 0) < cap

    def add(self, address: str | None) -> None:
        self.total += 1
        if address is not None:
            self.by_client[address] = self.by_client.get(address, 0) + 1

    def remove(self, address: str | None) -> None:
        self.total -= 1
        if address is not None:
            left = self.by_client[address] - 1
            if left:
                self.by_client[address] = left
            else:
                # Otherwise every address ever seen would stay in memory.
                del self.by_client[address]


def limited_protocol(limits: ConnectionLimits) -> type[LimitedHttpToolsProtocol]:
    """A protocol class for one server: its connections share one count, kept on the class."""

    class Limited(LimitedHttpToolsProtocol):
        pass

    Limited.limits = limits
    Limited.open_connections = OpenConnections()
    return Limited


@functools.cache
def _protocol_from_settings() -> type[LimitedHttpToolsProtocol]:
    return limited_protocol(ConnectionLimits.from_settings(load_settings()))


def from_settings(
    config: Config,
    server_state: ServerState,
    app_state: dict[str, Any],
    _loop: asyncio.AbstractEventLoop | None = None,
) -> LimitedHttpToolsProtocol:
    """A protocol factory for uvicorn's `--http`: the bounds of the settings, one count per process."""
    return _protocol_from_settings()(config, server_state, app_state, _loop)


class _WatchedFlowControl(FlowControl):
    """uvicorn's flow control, telling the protocol each time the app asks for more of the body."""

    def __init__(self, transport: asyncio.Transport, on_resume: Callable[[bool], None]) -> None:
        super().__init__(transport)
        self._on_resume = on_resume

    def resume_reading(self) -> None:
        self._on_resume(self.read_paused)
        super().resume_reading()


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of the module docstring; use `limited_protocol`.

    A connection is in one of three phases: awaiting request headers (a fixed deadline), awaiting
    a body (an idle clock), or waiting on the app (no bound here). One timer per connection checks
    the phase when it fires and re-arms itself for the time left, rather than being cancelled and
    created again at each request or chunk: a keep-alive connection serving request after request
    pays a clock read per request, not a timer.
    """

    limits: ClassVar[ConnectionLimits]
    open_connections: ClassVar[OpenConnections]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # An upgraded connection leaves this protocol without telling it, so its count would leak;
        # the app has no WebSocket route anyway.
        self.ws_protocol_class = None
        self._counted = False
        self._address: str | None = None
        self._phase: Literal["headers", "body", "app"] = "headers"
        self._headers_due = 0.0
        self._waiting_since = 0.0
        self._continue_pending = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        if not self.open_connections.admits(address, self.limits):
            transport.abort()
            return
        self.open_connections.add(address)
        self._counted = True
        self._address = address
        super().connection_made(transport)
        self.flow = _WatchedFlowControl(transport, self._reading_resumed)
        self._await_headers(self.loop.time())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._counted:
            return  # refused in connection_made: uvicorn never saw it
        self._counted = False
        self.open_connections.remove(self._address)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        now = self._waiting_since = self.loop.time()
        super().data_received(data)
        if self._phase == "body":
            self._check_by(now + self.limits.body_idle_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = "body"
        self._continue_pending = self.expect_100_continue

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.cycle.response_complete and not self.pipeline:
            # Answered before its body was read: the next request's clock starts now.
            self._await_headers(self._waiting_since)
        else:
            self._phase = "app"

    def on_response_complete(self) -> None:
        next_request_ready = bool(self.pipeline)
        super().on_response_complete()
        if not next_request_ready and self._phase != "body" and not self.transport.is_closing():
            self._await_headers(self.loop.time())

    def _reading_resumed(self, was_paused: bool) -> None:
        # The client could not send while we did not read, nor was it asked to before 100 Continue.
        if was_paused or self._continue_pending:
            self._continue_pending = False
            self._waiting_since = self.loop.time()

    def _await_headers(self, since: float) -> None:
        self._phase = "headers"
        self._headers_due = since + self.limits.header_timeout
        self._check_by(self._headers_due)

    def _check_by(self, due: float) -> None:
        """Have `_check` run no later than `due` (loop time); an earlier pending check will do."""
        if self._timer is not None:
            if self._timer_due <= due:
                return
            self._timer.cancel()
        self._timer = self.loop.call_at(due, self._check)
        self._timer_due = due

    def _check(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._phase == "headers":
            if now < self._headers_due:
                self._check_by(self._headers_due)
                return
            logger.debug("%s: no complete request headers in %ss: closed", self._address, self.limits.header_timeout)
        elif self._phase == "body":
            timeout = self.limits.body_idle_timeout
            if self.flow.read_paused or (self._continue_pending and self.cycle.waiting_for_100_continue):
                # Not the client's wait; _reading_resumed restarts its clock when it becomes one.
                self._check_by(now + timeout)
                return
            if now < self._waiting_since + timeout:
                self._check_by(self._waiting_since + timeout)
                return
            logger.debug("%s: no request body bytes for %ss: closed", self._address, timeout)
        else:
            return  # the app's time: the next phase re-arms
        self.transport.abort()
