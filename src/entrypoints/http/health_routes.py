"""Probes for orchestrators: /healthz (the process answers) and /readyz (the store answers too)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from src.application.read_results import CheckReadiness, Readiness
from src.entrypoints.http.problems import documented_problems


def add_health_routes(app: FastAPI, *, check_readiness: CheckReadiness) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The store answers; 503 problem while its database (the primary, with a read replica) is unavailable",
        responses=documented_problems(503),
    )
    async def readyz() -> JSONResponse:
        return JSONResponse(readiness_body(await run_in_threadpool(check_readiness)))


def readiness_body(readiness: Readiness) -> dict[str, Any]:
    """{"status": "ready"}, and with a read replica each database's state and the replica's lag:
    "databases": {"primary": {"status": "ready"}, "replica": {"status": "ready" or "unavailable",
    "lag_seconds": seconds or null, "detail": why it is unavailable (only then)}}."""
    body: dict[str, Any] = {"status": "ready"}
    replica = readiness.replica
    if replica is None:
        return body
    state: dict[str, Any] = {"status": "ready" if replica.unavailable is None else "unavailable"}
    state["lag_seconds"] = replica.lag_seconds
    if replica.unavailable is not None:
        state["detail"] = f"database unavailable: {replica.unavailable}; reads go to the primary"
    body["databases"] = {"primary": {"status": "ready"}, "replica": state}
    return body
