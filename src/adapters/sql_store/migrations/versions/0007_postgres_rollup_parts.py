"""PostgreSQL: a rollup bucket's sums in parts, so that writers append instead of updating.

Each writer added its batch's sums to every rollup row it touched, in place: two writers touching
the same hour or day waited for each other's commit, and a batch of results spread over a year
touched some 15,000 rows. Rollup rows now hold a `part`, numbered after the transaction that
appended it; writers append a part per bucket, averages add the parts up as they already add
buckets up, and the store merges a bucket's parts into one from time to time (see the store's
rollup_parts module). Every stored rollup row becomes part 0 of its bucket. SQLite, one writer at
a time, keeps a row per bucket.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # A constant default is written into the catalogue only: no row is rewritten.
    op.add_column("result_rollups", sa.Column("part", sa.BigInteger, nullable=False, server_default="0"))
    op.alter_column("result_rollups", "part", server_default=None)
    op.execute(
        "ALTER TABLE result_rollups DROP CONSTRAINT result_rollups_pkey, "
        "ADD PRIMARY KEY (width_us, bucket_start_us, part)"
    )
