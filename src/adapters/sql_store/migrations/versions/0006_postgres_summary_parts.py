"""PostgreSQL: a bucket's summary in parts, so that writers append instead of rewriting.

Each writer merged its results into every stored summary it touched: read, merge, write back, one
writer at a time. A batch of results spread over a year touched some 6,000 hours' summaries, and
rewriting them cost more than storing the results. A summary is now one or more parts, each
numbered after the transaction that appended it; writers append a part, readers merge them, and
the store merges a bucket's parts into one from time to time (see the store's summary_parts
module).
Every stored summary becomes part 0 of its bucket. A database that has results but no summaries
yet (one that comes from before revision 0004) gets them built here from every stored result.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    # A constant default is written into the catalogue only: no row is rewritten.
    op.add_column("result_summaries", sa.Column("part", sa.BigInteger, nullable=False, server_default="0"))
    op.alter_column("result_summaries", "part", server_default=None)
    # One index, in the order the reads and compaction want (see the store's summary_parts module):
    # a second one cost every appended part a second entry.
    op.execute(
        "ALTER TABLE result_summaries DROP CONSTRAINT result_summaries_pkey, "
        "ADD PRIMARY KEY (dimension, width_us, bucket_start_us, value, part)"
    )
    op.drop_index("result_summaries_by_bucket", "result_summaries")
    if connection.execute(sa.text("SELECT EXISTS (SELECT FROM result_summaries)")).scalar():
        return
    first, last = connection.execute(sa.text("SELECT min(recorded_at_us), max(recorded_at_us) FROM results")).one()
    if first is not None:
        # Imported here, not at the top: Alembic loads every revision, and this one alone needs numpy.
        from src.adapters.sql_store.postgres.summary_parts import rebuild  # noqa: PLC0415

        rebuild(connection, first, last + 1)
