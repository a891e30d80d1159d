"""HTTP bodies, as documented in the OpenAPI schema."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AverageBody(BaseModel):
    """The first version's field names, plus `count`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "average_token_count": 10.2,
                    "average_time_to_first_token": 216.0,
                    "average_time_per_output_token": 27.6,
                    "average_total_generation_time": 485.2,
                    "count": 5,
                }
            ]
        }
    )

    average_token_count: float | None = Field(description="Mean output tokens per result; null when count is 0.")
    average_time_to_first_token: float | None = Field(
        description="Mean time to first token, in milliseconds; null when count is 0."
    )
    average_time_per_output_token: float | None = Field(
        description="Mean time per output token, in milliseconds; null when count is 0."
    )
    average_total_generation_time: float | None = Field(
        description="Mean total generation time (end-to-end latency), in milliseconds; null when count is 0."
    )
    count: int = Field(ge=0, description="How many results the averages cover.")


class ProblemBody(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="A URI naming the kind of problem; about:blank when the status says it all.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, and what to change.")
    instance: str = Field(description="The path of the request that failed.")
