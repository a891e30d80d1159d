"""The FastAPI application factory: settings in, a wired app out; no app exists at import time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from src.entrypoints.container import Container
from src.entrypoints.http.access import Access
from src.entrypoints.http.average_routes import add_average_routes
from src.entrypoints.http.dashboard import add_dashboard_routes
from src.entrypoints.http.docs_routes import add_docs_routes
from src.entrypoints.http.health_routes import add_health_routes
from src.entrypoints.http.import_routes import add_import_routes
from src.entrypoints.http.metrics_routes import add_metrics_routes
from src.entrypoints.http.problems import install_problem_handlers
from src.entrypoints.http.result_routes import add_result_routes
from src.entrypoints.http.run_routes import add_run_routes
from src.entrypoints.http.single_parameters import know_single_parameters, refuse_repeated_single_parameters
from src.entrypoints.http.statistics_routes import add_statistics_routes
from src.entrypoints.http.telemetry import RequestTelemetry
from src.entrypoints.settings import Settings, load_settings

DESCRIPTION = """
Keeps per-request results of LLM inference load tests and answers how fast they were:
averages of token count, time to first token, time per output token and total generation time,
over all results or over a time window. Times are milliseconds; timestamps are UTC.

Every error is an RFC 9457 problem (`application/problem+json`) carrying the request's id
(`request_id`). Every answer carries that id in its `X-Request-ID` header: the client's own when it
sends a sane one (1 to 128 characters of letters, digits and `._:-`), else a new one.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the app. Building the use cases loads the result store, so bad data fails before serving."""
    settings = load_settings() if settings is None else settings
    container = Container() if container is None else container
    container.config.from_pydantic(settings)
    metrics = container.metrics()
    metrics.watch_pool(container.result_store())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # With one process a scrape samples the pool itself; with several, each worker records its own.
        sampling = asyncio.create_task(metrics.sample_pool_forever()) if metrics.multiprocess else None
        yield
        if sampling is not None:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
        metrics.process_exits()
        # With a read replica, the read store closes the primary as well as the replica.
        await container.read_store().aclose()

    # The description routes are added below, behind the same access rule as every read.
    app = FastAPI(
        title="SuperBenchmark",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_repeated_single_parameters)],
    )
    app.state.container = container
    access = Access(settings.api_key_set, settings.read_requires_key)
    # One function per resource adds its routes straight onto the app, in this order, because
    # Starlette tries routes in the order they were added and takes the first match:
    # 1. averages first: the busiest route, matched first; /results/average is no request_id;
    # 2. the other fixed paths under /results/ (import, stats, timeseries, compare, histogram)
    #    before 3., which would read them as request_ids;
    # 3. results: POST /results, GET /results and GET /results/{request_id};
    # 4. then paths of their own, which nothing above can match: runs, probes, metrics, the API's description.
    # Not included APIRouters: in this FastAPI version an included router is matched as a branch,
    # and its routes again inside it, a second round of matching on every request.
    add_average_routes(
        app,
        access=access,
        average_over_all=container.average_over_all(),
        average_over_window=container.average_over_window(),
    )
    add_import_routes(
        app,
        access=access,
        import_results=container.import_results(),
        max_import_bytes=settings.max_import_bytes,
        metrics=metrics,
    )
    add_statistics_routes(
        app,
        access=access,
        describe_results=container.describe_results(),
        follow_results_over_time=container.follow_results_over_time(),
        compare_results=container.compare_results(),
        describe_distribution=container.describe_distribution(),
    )
    add_result_routes(
        app,
        access=access,
        store_results=container.store_results(),
        get_result=container.get_result(),
        list_results=container.list_results(),
        max_body_bytes=settings.max_body_bytes,
    )
    add_run_routes(app, access=access, list_runs=container.list_runs(), delete_run=container.delete_run())
    add_health_routes(app, check_readiness=container.check_readiness())
    add_metrics_routes(app, access=access, metrics=metrics)
    add_docs_routes(app, access=access)
    add_dashboard_routes(app)
    know_single_parameters(app)
    install_problem_handlers(app)
    app.add_middleware(RequestTelemetry, metrics=metrics)
    return app
