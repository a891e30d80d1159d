"""SQLite: each minute's metrics packed into one blob per model, kept beside the rows.

SQLite hands a window's metrics to numpy, and its driver hands rows over one by one, from rows
scattered in insertion order: a day of 86,400 results cost 175 ms before numpy saw a number.
Packs hand over a whole minute at once. Existing results are packed here; every insert keeps
the packs whole. PostgreSQL summarises in SQL and has no use for them.

Revision ID: 0002
Revises: 0001
"""

import struct

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_MINUTE = 60 * 1_000_000
_METRICS = ("token_count", "time_to_first_token", "time_per_output_token", "total_generation_time")


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    op.create_table(
        "result_packs",
        sa.Column("minute_start_us", sa.BigInteger, primary_key=True),
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("result_count", sa.BigInteger, nullable=False),
        sa.Column("metrics", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    # The same packing as the store's inserts, in SQL: a minute's rows, model by model.
    rows = connection.exec_driver_sql(
        f"SELECT recorded_at_us - ((recorded_at_us % {_MINUTE}) + {_MINUTE}) % {_MINUTE}, coalesce(model, ''), "
        f"{', '.join(_METRICS)} FROM results ORDER BY 1, 2"
    )
    packs: dict[tuple[int, str], list[float]] = {}
    for minute, model, *metrics in rows:
        packs.setdefault((minute, model), []).extend(float(value) for value in metrics)
    if packs:
        connection.exec_driver_sql(
            "INSERT INTO result_packs VALUES (?, ?, ?, ?)",
            [(minute, model, len(values) // len(_METRICS), _pack(values)) for (minute, model), values in packs.items()],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_table("result_packs")


def _pack(values: list[float]) -> bytes:
    """Little-endian float64s, a result's metrics after another's, as the store writes them."""
    return struct.pack(f"<{len(values)}d", *values)
