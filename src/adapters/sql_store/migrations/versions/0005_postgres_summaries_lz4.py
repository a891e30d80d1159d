"""PostgreSQL: summaries a third smaller, and compressed with LZ4 where the server has it.

A day's summary held some 12 KB: each DDSketch bin an int32 key and an int64 count. Counts are
now stored in 4 bytes (metric_summaries.BIN_COUNT_TYPE; a larger count as several bins), and
the column is compressed with LZ4 rather than PostgreSQL's own pglz: reading a year's 365 days
cost the server 10 ms of pglz decompression, about 6 with LZ4, and writers compress every
summary they merge into. Summaries that revision 0004 built are rewritten in the new form (a
column's compression applies to values written after it is set); a database that comes from
before 0004 has none yet, and gets them built by revision 0006, which changes the table they are
built into. A server built without LZ4 keeps pglz: answers are the same, only slower.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

_HAS_LZ4 = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
_KEYS = "dimension, value, width_us, bucket_start_us"
_REWRITE = f"""
    UPDATE result_summaries s SET summary = u.summary
    FROM unnest(%(dimensions)s::text[], %(values)s::text[], %(widths)s::bigint[], %(starts)s::bigint[],
        %(summaries)b::bytea[]) AS u(d, v, w, b, summary)
    WHERE ({_KEYS}) = (u.d, u.v, u.w, u.b)
"""
_NAMES = ("dimensions", "values", "widths", "starts")
_ROWS_AT_A_TIME = 5_000
_REVISION_0004_COUNTS = "<i8"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    if connection.execute(sa.text(_HAS_LZ4)).scalar():
        op.execute("ALTER TABLE result_summaries ALTER COLUMN summary SET COMPRESSION lz4")
    if connection.execute(sa.text("SELECT EXISTS (SELECT FROM result_summaries)")).scalar():
        _rewrite(connection)


def _rewrite(connection: sa.Connection) -> None:
    """Every stored summary, as revision 0004 wrote it, in this version's form."""
    # Imported here, not at the top: Alembic loads every revision, and this one alone needs numpy.
    from src.adapters.metric_summaries import decode, encode  # noqa: PLC0415

    driver = connection.connection.driver_connection
    # A server-side cursor reads the table a slice at a time; it sees the table as it was, so
    # rows rewritten meanwhile are not read again.
    with driver.cursor(name="summaries_rewrite") as cursor:  # type: ignore[union-attr]
        cursor.execute(f"SELECT {_KEYS}, summary FROM result_summaries")
        while rows := cursor.fetchmany(_ROWS_AT_A_TIME):
            summaries = encode(decode([row[4] for row in rows], count_type=_REVISION_0004_COUNTS))
            keys = {name: [row[position] for row in rows] for position, name in enumerate(_NAMES)}
            driver.execute(_REWRITE, {**keys, "summaries": summaries})  # type: ignore[union-attr]
