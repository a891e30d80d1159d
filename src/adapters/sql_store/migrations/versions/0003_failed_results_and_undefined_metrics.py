"""Failed results and undefined metrics: results gain `prompt_token_count` and `error`, and their
four metrics may be NULL; rollups count successes, each metric's successes, and failures; SQLite's
packs hold five metrics a success (NaN where undefined) and count their failures beside.

Every result stored before this revision is a success with all four metrics and no input token
count, so the new rollup counts are its success count (failures 0, input tokens none), and each
pack is its old metrics with a NaN input token count after each result's four.

SQLite cannot drop a NOT NULL constraint: its results table is rebuilt, with its indexes.

Revision ID: 0003
Revises: 0002
"""

import struct

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_OLD_WIDTH = 4  # a result's metrics in a pack before this revision; five after it
_NAN = struct.pack("<d", float("nan"))
_RESULT_COLUMNS = (
    "request_id, recorded_at_us, token_count, time_to_first_token, time_per_output_token, "
    "total_generation_time, prompt_text, generated_text, model, labels"
)
_NEW_ROLLUP_COLUMNS = (
    ("count_time_to_first_token", sa.BigInteger),
    ("count_time_per_output_token", sa.BigInteger),
    ("sum_prompt_token_count", sa.Float(53)),
    ("count_prompt_token_count", sa.BigInteger),
    ("failed_count", sa.BigInteger),
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        _rebuild_sqlite_results()
        _repack_sqlite()
    else:
        for metric in ("token_count", "time_to_first_token", "time_per_output_token", "total_generation_time"):
            op.alter_column("results", metric, nullable=True)
        op.add_column("results", sa.Column("prompt_token_count", sa.BigInteger, nullable=True))
        op.add_column("results", sa.Column("error", sa.Text, nullable=True))
    for name, kind in _NEW_ROLLUP_COLUMNS:
        op.add_column("result_rollups", sa.Column(name, kind, nullable=False, server_default=sa.text("0")))
    # Every result so far succeeded with TTFT and TPOT: each bucket's successes all have them.
    op.execute(
        "UPDATE result_rollups SET count_time_to_first_token = result_count, count_time_per_output_token = result_count"
    )


def _rebuild_sqlite_results() -> None:
    double = sa.Float(53)
    op.create_table(
        "results_rebuilt",
        sa.Column("request_id", sa.String(256), primary_key=True),
        sa.Column("recorded_at_us", sa.BigInteger, nullable=False),
        sa.Column("token_count", sa.BigInteger, nullable=True),
        sa.Column("time_to_first_token", double, nullable=True),
        sa.Column("time_per_output_token", double, nullable=True),
        sa.Column("total_generation_time", double, nullable=True),
        sa.Column("prompt_text", sa.Text, nullable=False),
        sa.Column("generated_text", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("prompt_token_count", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.execute(f"INSERT INTO results_rebuilt ({_RESULT_COLUMNS}) SELECT {_RESULT_COLUMNS} FROM results")
    op.drop_table("results")  # its indexes go with it
    op.rename_table("results_rebuilt", "results")
    op.create_index("results_by_time", "results", ["recorded_at_us", "request_id"])
    op.create_index(
        "results_by_model_and_time",
        "results",
        ["model", "recorded_at_us", "request_id"],
        sqlite_where=sa.text("model IS NOT NULL"),
    )


def _repack_sqlite() -> None:
    connection = op.get_bind()
    op.add_column("result_packs", sa.Column("failed", sa.BigInteger, nullable=False, server_default=sa.text("0")))
    packs = connection.exec_driver_sql("SELECT minute_start_us, model, metrics FROM result_packs").fetchall()
    if packs:
        connection.exec_driver_sql(
            "UPDATE result_packs SET metrics = ? WHERE minute_start_us = ? AND model = ?",
            [(_widened(metrics), minute, model) for minute, model, metrics in packs],
        )


def _widened(metrics: bytes) -> bytes:
    """A pack's four float64s a result with a NaN input token count after each result's four."""
    step = 8 * _OLD_WIDTH
    return b"".join(metrics[start : start + step] + _NAN for start in range(0, len(metrics), step))


def downgrade() -> None:
    raise NotImplementedError("failed results and undefined metrics have no place in revision 0002's schema")
