"""Tables of the SQL store. Alembic migrations create them; this module names them for queries.

Timestamps are integer microseconds since the Unix epoch (UTC): exact, ordered the same way in
every database, and the unit the JSON store indexes by.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Float, Index, LargeBinary, MetaData, String, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB

# Migrations and the code move together: a database at another revision is refused at startup.
SCHEMA_REVISION = "0007"

MICROSECONDS_PER_MINUTE = 60 * 1_000_000
# Rollup widths, each a multiple of the one before: any window is a few raw rows at its edges,
# then at most 2·59 minutes, 2·23 hours, 2·29 days and some 30-day buckets, whatever its length.
ROLLUP_WIDTHS = (
    MICROSECONDS_PER_MINUTE,
    60 * MICROSECONDS_PER_MINUTE,
    24 * 60 * MICROSECONDS_PER_MINUTE,
    30 * 24 * 60 * MICROSECONDS_PER_MINUTE,
)

metadata = MetaData()

# "C" collation orders ids by code point in PostgreSQL, as SQLite and Python do, so that every
# store pages through results in the same order.
_request_id_type = String(256).with_variant(String(256, collation="C"), "postgresql")

results = Table(
    "results",
    metadata,
    Column("request_id", _request_id_type, primary_key=True),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("token_count", BigInteger, nullable=True),
    Column("time_to_first_token", Float(53), nullable=True),
    Column("time_per_output_token", Float(53), nullable=True),
    Column("total_generation_time", Float(53), nullable=True),
    Column("prompt_text", Text, nullable=False),
    Column("generated_text", Text, nullable=False),
    Column("model", Text, nullable=True),
    Column("labels", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    # Added by migration 0003, hence after the others. A result with an error failed: its metrics
    # (any of which may be NULL) reach no average or statistic. A success has its token_count and
    # total_generation_time; its TTFT, TPOT and input tokens are NULL where undefined.
    Column("prompt_token_count", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    # Windows and pages scan by time; a page resumes after a (timestamp, request_id) key.
    Index("results_by_time", "recorded_at_us", "request_id"),
    # Only results that name a model are found by model: the others cost this index nothing.
    Index(
        "results_by_model_and_time",
        "model",
        "recorded_at_us",
        "request_id",
        postgresql_where=text("model IS NOT NULL"),
        sqlite_where=text("model IS NOT NULL"),
    ),
)

# Per width and bucket, kept up to date by every insert: how many results succeeded
# (`result_count`) and failed, each metric's sum over the successes that have it, and how many
# successes have the metrics a success may lack (every success has token_count and
# total_generation_time, so their counts are `result_count`). In PostgreSQL (migration 0007) a
# bucket may hold several rows, its parts (a `part` column, in the primary key), to be added up.
result_rollups = Table(
    "result_rollups",
    metadata,
    Column("width_us", BigInteger, primary_key=True),
    Column("bucket_start_us", BigInteger, primary_key=True),
    Column("result_count", BigInteger, nullable=False),
    Column("sum_token_count", Float(53), nullable=False),
    Column("sum_time_to_first_token", Float(53), nullable=False),
    Column("sum_time_per_output_token", Float(53), nullable=False),
    Column("sum_total_generation_time", Float(53), nullable=False),
    Column("count_time_to_first_token", BigInteger, nullable=False),
    Column("count_time_per_output_token", BigInteger, nullable=False),
    Column("sum_prompt_token_count", Float(53), nullable=False),
    Column("count_prompt_token_count", BigInteger, nullable=False),
    Column("failed_count", BigInteger, nullable=False),
)
# The metrics a success may lack, whose counts the rollups keep.
COUNTED_METRICS = ("time_to_first_token", "time_per_output_token", "prompt_token_count")

# SQLite only (migrations 0002 and 0003): per minute and model, the metrics of its successful
# results packed as little-endian float64s, a result's five (STORED_METRICS order, NaN where
# undefined) after another's; `result_count` counts them, `failed` the minute's failed results,
# whose metrics are not packed. Statistics read a window's whole minutes from here, a blob a
# minute, instead of row by row.
NO_MODEL = ""
"""The `model` of the pack of results without a model: no result can name the empty string."""
result_packs = Table(
    "result_packs",
    metadata,
    Column("minute_start_us", BigInteger, primary_key=True),
    Column("model", Text, primary_key=True),
    Column("result_count", BigInteger, nullable=False),
    Column("metrics", LargeBinary, nullable=False),
    Column("failed", BigInteger, nullable=False),
)
