"""Results, keyed by request_id and indexed by time; rollups of their metric sums.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None


def upgrade() -> None:
    double = sa.Float(53)
    op.create_table(
        "results",
        sa.Column(
            "request_id", sa.String(256).with_variant(sa.String(256, collation="C"), "postgresql"), primary_key=True
        ),
        sa.Column("recorded_at_us", sa.BigInteger, nullable=False),
        sa.Column("token_count", sa.BigInteger, nullable=False),
        sa.Column("time_to_first_token", double, nullable=False),
        sa.Column("time_per_output_token", double, nullable=False),
        sa.Column("total_generation_time", double, nullable=False),
        sa.Column("prompt_text", sa.Text, nullable=False),
        sa.Column("generated_text", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=True),
        sa.Column("labels", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )
    op.create_index("results_by_time", "results", ["recorded_at_us", "request_id"])
    with_model = sa.text("model IS NOT NULL")
    op.create_index(
        "results_by_model_and_time",
        "results",
        ["model", "recorded_at_us", "request_id"],
        postgresql_where=with_model,
        sqlite_where=with_model,
    )
    op.create_table(
        "result_rollups",
        sa.Column("width_us", sa.BigInteger, primary_key=True),
        sa.Column("bucket_start_us", sa.BigInteger, primary_key=True),
        sa.Column("result_count", sa.BigInteger, nullable=False),
        sa.Column("sum_token_count", double, nullable=False),
        sa.Column("sum_time_to_first_token", double, nullable=False),
        sa.Column("sum_time_per_output_token", double, nullable=False),
        sa.Column("sum_total_generation_time", double, nullable=False),
    )
