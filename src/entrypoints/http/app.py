"""The FastAPI application factory: settings in, a wired app out; no app exists at import time."""

from __future__ import annotations

from fastapi import FastAPI

from src.entrypoints.container import Container
from src.entrypoints.http.problems import install_problem_handlers
from src.entrypoints.http.routes import router
from src.entrypoints.settings import Settings, load_settings

DESCRIPTION = """
Keeps per-request results of LLM inference load tests and answers how fast they were:
averages of token count, time to first token, time per output token and total generation time,
over all results or over a time window. Times are milliseconds; timestamps are UTC.

Every error is an RFC 9457 problem (`application/problem+json`).
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the app. The result store is loaded here, so bad data fails before serving starts."""
    settings = settings or load_settings()
    container = container or Container()
    container.config.from_pydantic(settings)
    container.result_store()

    app = FastAPI(title="SuperBenchmark", version="1.0.0", description=DESCRIPTION)
    app.state.container = container
    app.include_router(router)
    install_problem_handlers(app)
    return app
