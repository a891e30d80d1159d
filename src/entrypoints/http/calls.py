"""How a route calls a use case: on the event loop, or on a worker thread when the store blocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class RunUseCase(Protocol):
    def __call__(self, function: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


async def run_inline(function: Callable[..., T], /, *args: Any) -> T:
    return function(*args)
