"""HTTP bodies, as documented in the OpenAPI schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AverageBody(BaseModel):
    """The first version's field names, plus `count` (successful results) and `failed`. Each average is
    over the successful results that have its metric (TTFT and TPOT may be undefined)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "average_token_count": 10.2,
                    "average_time_to_first_token": 216.0,
                    "average_time_per_output_token": 27.6,
                    "average_total_generation_time": 485.2,
                    "count": 5,
                    "failed": 0,
                }
            ]
        }
    )

    average_token_count: float | None = Field(description="Mean output tokens per result; null when count is 0.")
    average_time_to_first_token: float | None = Field(
        description="Mean time to first token, in milliseconds, over the results that have one; null when none has."
    )
    average_time_per_output_token: float | None = Field(
        description="Mean time per output token, in milliseconds, over the results that have one; null when none has."
    )
    average_total_generation_time: float | None = Field(
        description="Mean total generation time (end-to-end latency), in milliseconds; null when count is 0."
    )
    count: int = Field(ge=0, description="How many successful results the averages cover.")
    failed: int = Field(ge=0, description="Failed results in the window; no average reads them.")


class ProblemBody(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="A URI naming the kind of problem; about:blank when the status says it all.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, and what to change.")
    instance: str = Field(description="The path of the request that failed.")
    request_id: str = Field(
        description="The request's id, as in its X-Request-ID response header and the server's log lines."
    )


class ResultIn(BaseModel):
    """A benchmark result as sent to POST /results, one object per line of an import, or in a data file."""

    request_id: str = Field(
        min_length=1, max_length=256, description="Unique id of the request; re-sending it is safe."
    )
    token_count: int | None = Field(
        None, ge=0, le=10**9, description="Output tokens generated; required unless `error` is given."
    )
    time_to_first_token: float | None = Field(
        None,
        ge=0,
        le=1e12,
        description="Milliseconds until the first token; absent or null when undefined (no streaming). "
        "At most total_generation_time.",
    )
    time_per_output_token: float | None = Field(
        None,
        ge=0,
        le=1e12,
        description="Milliseconds per output token after the first, (e2e - TTFT) / (tokens - 1); "
        "absent or null when undefined (one output token or none).",
    )
    total_generation_time: float | None = Field(
        None, ge=0, le=1e12, description="Milliseconds from request to last token; required unless `error` is given."
    )
    prompt_token_count: int | None = Field(None, ge=0, le=10**9, description="Input tokens; null when not counted.")
    error: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="The tool's error message or code for a failed request; absent or null for a success.",
    )
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


class MetricStatsBody(BaseModel):
    """One metric's summary; its percentiles are further fields named p<q>, e.g. p50, p99.9."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {"type": "number"}})

    count: int = Field(
        description="Values summarised: the successful results that have this metric "
        "(throughput also leaves out requests shorter than 1 µs)."
    )
    mean: float
    min: float
    max: float
    stddev: float = Field(description="Population standard deviation (as numpy.std and vLLM).")


class GoodputBody(BaseModel):
    count: int = Field(description="Successful results meeting every given SLO.")
    share: float | None = Field(description="count / all results, failed ones included; null when there are none.")


class SummaryBody(BaseModel):
    count: int = Field(description="Successful results summarised.")
    failed: int = Field(description="Failed results: counted here, read by no metric.")
    error_rate: float | None = Field(description="failed / (count + failed); null when there are no results.")
    goodput: GoodputBody | None = Field(description="Present when an SLO parameter was given.")
    percentiles: Literal["exact", "approximate"] = Field(
        description="exact: numpy's linear percentiles of the values. approximate: from quantile sketches "
        "(DDSketch), each within percentile_relative_accuracy of the exact value; count, mean, min, max "
        "and stddev stay exact."
    )
    percentile_relative_accuracy: float | None = Field(description="0.01 = 1%; null when exact.")
    metrics: dict[str, MetricStatsBody | None] = Field(description="By metric name; null where there is no value.")


class GroupBody(SummaryBody):
    group: str | None = Field(description="The group's model or label value; null for results without one.")


class SelectionBody(BaseModel):
    start: str | None = Field(description="Window start (UTC), included; null for open.")
    end: str | None = Field(description="Window end (UTC), included; null for open.")
    model: str | None
    labels: dict[str, str] = Field(description="Labels every result carries.")


class StatsBody(BaseModel):
    selection: SelectionBody
    group_by: str | None
    percentiles: list[float]
    units: dict[str, str] = Field(description="Unit of each metric.")
    slo: dict[str, float] | None = Field(description="The SLO bounds given, in milliseconds, by metric.")
    groups: list[GroupBody] = Field(description="One group when not grouped; largest first when grouped.")


class BucketBody(SummaryBody):
    start: str = Field(description="Bucket start (UTC), included.")
    end: str = Field(description="Bucket end (UTC), excluded.")


class SeriesBody(BaseModel):
    group: str | None
    buckets: list[BucketBody]


class TimeSeriesBody(BaseModel):
    selection: SelectionBody
    group_by: str | None
    bucket: str = Field(description="The bucket width used, e.g. 1h; auto names the width it chose.")
    bucket_seconds: int
    percentiles: list[float]
    units: dict[str, str]
    slo: dict[str, float] | None
    series: list[SeriesBody] = Field(description="One series when not grouped; one per group otherwise.")


class SideStatsBody(BaseModel):
    count: int
    mean: float
    p50: float
    p99: float


class RankTestBody(BaseModel):
    values: Literal["all", "sample"] = Field(
        description="all: every value of both sides. sample: past 10,000 values on a side, a uniform "
        "random sample of 10,000 (fixed seed); means and percentiles are still over every value."
    )
    baseline: int = Field(description="Baseline values ranked.")
    candidate: int = Field(description="Candidate values ranked.")


class MetricComparisonBody(BaseModel):
    lower_is_better: bool
    baseline: SideStatsBody | None
    candidate: SideStatsBody | None
    absolute_change: float | None = Field(description="candidate mean - baseline mean.")
    relative_change: float | None = Field(description="absolute_change / baseline mean; null when that is 0.")
    p_value: float | None = Field(description="Two-sided Mann-Whitney U test (normal approximation).")
    verdict: str | None = Field(description="regression, improvement or no significant change.")
    rank_test: RankTestBody | None = Field(description="What the U test ranked; null without a test.")


class CompareSideBody(SelectionBody):
    count: int = Field(description="Successful results on this side; the metrics compare them.")
    failed: int = Field(description="Failed results on this side.")


class CompareBody(BaseModel):
    baseline: CompareSideBody
    candidate: CompareSideBody
    relative_threshold: float
    significance: float
    units: dict[str, str]
    metrics: dict[str, MetricComparisonBody]


class HistogramBody(BaseModel):
    selection: SelectionBody
    metric: str
    unit: str = Field(description="The metric's unit: ms, tokens or tokens/s.")
    scale: str = Field(description="linear or log.")
    count: int = Field(description="Values binned: the successful results that have the metric.")
    failed: int = Field(description="Failed results in the selection; none of them is binned.")
    min: float | None = Field(description="The smallest value; null without values.")
    max: float | None = Field(description="The largest value; null without values.")
    edges: list[float] | None = Field(
        description="Ascending bin edges, one more than the bins: bin i holds edges[i] <= value < edges[i+1], "
        "the last one its upper edge too. Log edges start at the smallest positive value, and values <= 0 count "
        "in the first bin. Null without values."
    )
    counts: list[int] = Field(description="Values per bin, exact; they sum to count. Empty without values.")


class RunBody(BaseModel):
    run: str = Field(description="The run's name: the value of its results' `run` label.")
    tool: str | None = Field(description="The tool that wrote its files (its `tool` label).")
    model: str | None = Field(description="The model, when every result of the run names the same one.")
    count: int = Field(description="Successful results.")
    failed: int = Field(description="Failed results.")
    first: str = Field(description="Timestamp of its first result, UTC.")
    last: str = Field(description="Timestamp of its last result, UTC.")
    labels: dict[str, str] = Field(description="The labels every result of the run carries: its settings.")


class RunPageBody(BaseModel):
    runs: list[RunBody]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class DeletedRunBody(BaseModel):
    run: str
    deleted: int = Field(description="Results removed.")
