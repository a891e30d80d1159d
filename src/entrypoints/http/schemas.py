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


class ResultIn(BaseModel):
    """A benchmark result as sent to POST /results, one object per line of an import, or in a data file."""

    request_id: str = Field(
        min_length=1, max_length=256, description="Unique id of the request; re-sending it is safe."
    )
    token_count: int = Field(ge=0, le=10**9, description="Output tokens generated.")
    time_to_first_token: float = Field(ge=0, le=1e12, description="Milliseconds until the first token.")
    time_per_output_token: float = Field(ge=0, le=1e12, description="Milliseconds per output token after the first.")
    total_generation_time: float = Field(ge=0, le=1e12, description="Milliseconds from request to last token.")
    timestamp: str = Field(description="ISO 8601 date-time with a time of day; without an offset it means UTC.")
    prompt_text: str = Field("", description="The prompt sent.")
    generated_text: str = Field("", description="The text generated.")
    model: str | None = Field(None, min_length=1, max_length=256, description="The model that answered.")
    labels: dict[str, str] = Field(
        default_factory=dict, description='Up to 64 labels for grouping, e.g. {"run": "a"}; keys hold no \':\'.'
    )


class ResultBody(ResultIn):
    """A stored result; its timestamp is in UTC."""


class ResultPageBody(BaseModel):
    results: list[ResultBody]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class StoredBody(BaseModel):
    stored: int = Field(description="Results that were new and are now stored.")
    already_stored: int = Field(description="Results identical to ones already stored: nothing changed for them.")


class RejectedLine(BaseModel):
    line: int | None
    request_id: str | None
    field: str | None
    reason: str


class ImportReportBody(StoredBody):
    rejected: int = Field(
        description="Lines that were not stored: invalid, or reusing a request_id with other content."
    )
    errors: list[RejectedLine] = Field(description="The first 100 rejected lines, in the order they were met.")
