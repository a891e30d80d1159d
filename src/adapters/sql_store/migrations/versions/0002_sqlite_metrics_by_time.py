"""SQLite: an index that covers a window's metrics, so statistics read it without visiting rows.

SQLite summarises a window by handing its metrics to numpy. Rows sit in insertion order, so a
window's rows are scattered over the table; this index holds the metrics in time order, and a
window becomes one range scan of it (3.5x faster for a day of 86,400 results). PostgreSQL
summarises in SQL and is left alone: the index would cost every insert there.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"

_METRICS = ("token_count", "time_to_first_token", "time_per_output_token", "total_generation_time")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("results_metrics_by_time", "results", ["recorded_at_us", *_METRICS])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("results_metrics_by_time", "results")
