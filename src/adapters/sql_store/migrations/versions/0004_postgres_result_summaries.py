"""PostgreSQL: summaries per series and rollup bucket, so that statistics cost what their answer
holds, not what their window holds; label filters found through an index.

`result_summaries` is created here; revision 0005 builds it from every stored result, in the
form this version stores (see the PostgreSQL store's summaries module). A GIN index over the
labels lets a filter by label find a small run in a year of results without reading the year.
SQLite answers statistics from its packs and gains nothing.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    op.create_table(
        "result_summaries",
        sa.Column("dimension", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("width_us", sa.BigInteger, primary_key=True),
        sa.Column("bucket_start_us", sa.BigInteger, primary_key=True),
        sa.Column("summary", sa.LargeBinary, nullable=False),
    )
    # A grouping reads every value of a dimension in a range of buckets.
    op.create_index("result_summaries_by_bucket", "result_summaries", ["dimension", "width_us", "bucket_start_us"])
    op.execute("CREATE INDEX results_by_labels ON results USING gin (labels jsonb_path_ops)")
