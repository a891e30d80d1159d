"""Scratch databases for the tests: a SQLite file, or a PostgreSQL schema of their own, migrated and dropped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import text

from src.adapters.sql_store.database import connect, database_url, migrate

TEST_DATABASE_URL = os.environ.get("SUPERBENCHMARK_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# In CI a PostgreSQL that cannot be reached is a failure, not a reason to skip.
REQUIRE_POSTGRES = os.environ.get("SUPERBENCHMARK_REQUIRE_POSTGRES", "") not in {"", "0", "false"}
SQL_KINDS = ("sqlite", "postgresql")


def postgres_or_skip() -> None:
    try:
        psycopg.connect(TEST_DATABASE_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL at SUPERBENCHMARK_TEST_DATABASE_URL is unreachable: {str(error).strip()}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (and SUPERBENCHMARK_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)


@contextmanager
def scratch_database(kind: str, directory: Path, *, migrated: bool = True) -> Iterator[str]:
    """The URL of an empty database of `kind`, at the code's schema revision unless `migrated` is False."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / f'results-{uuid.uuid4().hex[:8]}.db'}"
        _migrate(url, migrated)
        yield url
        return
    postgres_or_skip()
    schema = f"superbenchmark_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')  # a name made here, not input
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    url = f"{TEST_DATABASE_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        _migrate(url, migrated)
        yield url
    finally:
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _migrate(url: str, wanted: bool) -> None:
    if wanted:
        migrated(url)


def migrated(url: str) -> None:
    engine = connect(database_url(url), pool_size=1)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def emptied(url: str) -> None:
    """Remove every result, rollup and pack, keeping the schema."""
    engine = connect(database_url(url), pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM results"))
            connection.execute(text("DELETE FROM result_rollups"))
            if engine.dialect.name == "sqlite":
                connection.execute(text("DELETE FROM result_packs"))
            else:
                connection.execute(text("DELETE FROM result_summaries"))
    finally:
        engine.dispose()


class OwnPostgres:
    """A PostgreSQL cluster of the test's own, in a temporary directory, that the test may stop and start.

    With `standby_of`, a hot standby of that (running) cluster: a base backup of it that streams
    and replays its WAL once started (`pg_basebackup -R`).
    """

    def __init__(self, *, standby_of: OwnPostgres | None = None) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
        if not binaries:
            reason = "no PostgreSQL server binaries (pg_ctl) to start a cluster of the test's own"
            if REQUIRE_POSTGRES:
                pytest.fail(reason)
            pytest.skip(reason)
        self._bin = binaries[-1].parent
        self.directory = Path(tempfile.mkdtemp(prefix="superbenchmark-pg-"))
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL refuses to run as root; then the cluster belongs to the postgres user.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        try:
            if self._as:
                shutil.chown(self.directory, "postgres")
            data = str(self.directory / "data")
            if standby_of is None:
                self._run("initdb", "--auth=trust", "--username=postgres", "--no-sync", "-D", data)
            else:
                # initdb's trust rules admit replication connections from 127.0.0.1 too.
                source = ("-h", "127.0.0.1", "-p", str(standby_of.port), "-U", "postgres")
                self._run("pg_basebackup", *source, "-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.directory / "data"),
            "-o",
            options,
            "-l",
            str(self.directory / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self._as, str(self._bin / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(
            [*self._as, str(self._bin / program), *arguments], check=True, capture_output=True, cwd=self.directory
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
