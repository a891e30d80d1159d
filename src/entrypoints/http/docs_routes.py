"""The API's own description: /openapi.json, /docs (Swagger UI) and /redoc, readable by whoever may read.

FastAPI serves these itself, but outside every dependency: with SUPERBENCHMARK_READ_REQUIRES_KEY
they would stay open and tell anyone every route and parameter. Served here, they take the same
access rule as every other read.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from src.entrypoints.http.access import Access

OPENAPI_PATH = "/openapi.json"


def add_docs_routes(app: FastAPI, *, access: Access) -> None:
    """Add /openapi.json, /docs and /redoc to `app`, which must be built with openapi_url=None,
    docs_url=None and redoc_url=None so that FastAPI does not add its own open ones."""

    @app.get(OPENAPI_PATH, include_in_schema=False, dependencies=access.readers())
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=access.readers())
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title=f"{app.title} - API")

    @app.get("/redoc", include_in_schema=False, dependencies=access.readers())
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_PATH, title=f"{app.title} - ReDoc")
