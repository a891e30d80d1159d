"""Query parameters that take one value are refused when given more than once.

FastAPI reads the last of a repeated parameter it declares single (`model=a&model=b` reads as
`b`), so a client that meant both would get an answer to another question, and the request
breaks the API's own description (OpenAPI declares such a parameter a single value). Every
route gets this check as an app-wide dependency, reading a table of each route's single
parameters that the app keeps from its start (know_single_parameters); parameters declared as
lists (`label`, `metric`) repeat as documented.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

from fastapi import FastAPI, Request

from src.domain.errors import InvalidParameter

_LISTS = (list, tuple, set, frozenset)


async def refuse_repeated_single_parameters(request: Request) -> None:
    """Raises InvalidParameter (422 invalid-parameter) naming a single-valued query parameter of
    the matched route that the query string gives more than once. A coroutine, so that FastAPI
    runs it on the event loop: as a function it would cost every request a worker thread."""
    names = [name for name, _ in request.query_params.multi_items()]
    if len(names) == len(set(names)):
        return  # nothing repeated: the usual case costs one set
    repeated = {name for name in names if names.count(name) > 1}
    singles = request.app.state.single_parameters.get(id(request.scope.get("route")), frozenset())
    for name in sorted(repeated & singles):
        raise InvalidParameter(name, "given more than once; it takes one value")


def know_single_parameters(app: FastAPI) -> None:
    """Keep, on `app`, each of its routes' single-valued query parameters, by the route's id
    (routes are not hashable, and live as long as their app): call it once every route is added."""
    app.state.single_parameters = {id(route): _single_parameters(route) for route in app.routes}


def _single_parameters(route: Any) -> frozenset[str]:
    """The query parameters of `route` (its own and its dependencies') that take one value."""
    dependant = getattr(route, "dependant", None)
    return frozenset(field.alias for field in _query_fields(dependant) if not _is_list(field.field_info.annotation))


def _query_fields(dependant: Any) -> Iterator[Any]:
    if dependant is None:
        return
    yield from dependant.query_params
    for dependency in dependant.dependencies:
        yield from _query_fields(dependency)


def _is_list(annotation: Any) -> bool:
    """A list-like type, or an optional one (`list[str] | None`)."""
    origin = get_origin(annotation)
    if origin in _LISTS or annotation in _LISTS:
        return True
    if origin in (Union, types.UnionType):
        return any(_is_list(argument) for argument in get_args(annotation))
    return False
