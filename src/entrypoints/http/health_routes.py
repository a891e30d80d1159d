"""Probes for orchestrators: /healthz (the process answers) and /readyz (the store answers too)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from src.application.read_results import CheckReadiness
from src.entrypoints.http.problems import documented_problems


def add_health_routes(app: FastAPI, *, check_readiness: CheckReadiness) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The store answers; 503 problem while its database is unavailable",
        responses=documented_problems(503),
    )
    async def readyz() -> JSONResponse:
        await run_in_threadpool(check_readiness)
        return JSONResponse({"status": "ready"})
