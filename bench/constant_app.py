"""The yardstick for requests/s: FastAPI answering the same routes with a constant body."""

from __future__ import annotations

from fastapi import FastAPI

BODY = {
    "average_token_count": 10.2,
    "average_time_to_first_token": 216.0,
    "average_time_per_output_token": 27.6,
    "average_total_generation_time": 485.2,
    "count": 5,
}

app = FastAPI()


@app.get("/results/average")
async def average_over_all() -> dict[str, float | int]:
    return BODY


@app.get("/results/average/{start_time}/{end_time}")
async def average_over_window(start_time: str, end_time: str) -> dict[str, float | int]:
    return BODY
