"""`make migrate` and `superbenchmark import`: the commands an operator runs against the configured database."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.stores import open_sql_store
from src.application.ports.result_store import SummaryQuery
from src.domain.benchmark_result import BenchmarkResult
from src.domain.result_aggregate import AverageSummary
from src.domain.result_selection import Grouping
from src.entrypoints import cli, migrate
from tests.support import SEED_FILE, assert_same_summaries, record, write_result_file
from tests.unit.fakes import FakeResultStore


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    for name in ("SUPERBENCHMARK_DEBUG", "SUPERBENCHMARK_DATA_FILE", "SUPERBENCHMARK_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPERBENCHMARK_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    return url


def test_migrate_then_import_twice_stores_the_seed_once(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert migrate.main([]) == 0
    assert capsys.readouterr().out.strip() == "schema at revision 0007 (was empty)"
    assert migrate.main([]) == 0
    assert capsys.readouterr().out.strip() == "schema at revision 0007"

    assert cli.main(["import", str(SEED_FILE)]) == 0
    stored_once = "results (seed): stored 5, already stored 0, rejected 0, failed requests 0"
    assert capsys.readouterr().out.strip() == stored_once
    assert cli.main(["import", str(SEED_FILE)]) == 0
    stored_before = "results (seed): stored 0, already stored 5, rejected 0, failed requests 0"
    assert capsys.readouterr().out.strip() == stored_before

    store = open_sql_store(database_url(sqlite_url))
    assert store.aggregate().summary() == AverageSummary(5, 10.2, 216.0, 27.6, 485.2)
    store.close()


def test_migrate_asked_for_help_prints_it_and_leaves_the_database_alone(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as helped:
        migrate.main(["--help"])
    assert helped.value.code == 0
    assert "SUPERBENCHMARK_DATABASE_URL" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        migrate.main(["--revision", "0001"])
    assert refused.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
    assert not (tmp_path / "results.db").exists()


def test_an_import_that_conflicts_names_the_result_and_fails(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate.main([]) == 0
    assert cli.main(["import", str(SEED_FILE)]) == 0
    changed = write_result_file(
        tmp_path / "changed.json",
        [
            record("new-a", "2024-06-01T12:00:00Z"),
            record("new-b", "2024-06-01T12:00:00Z"),
            record("1", "2024-06-01T12:00:00Z", token_count=99),
        ],
    )
    monkeypatch.setenv("SUPERBENCHMARK_IMPORT_BATCH_ROWS", "2")
    capsys.readouterr()
    assert cli.main(["import", str(changed)]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == "results (seed): stored 2, already stored 0, rejected 1, failed requests 0"
    # Its position in the file (the third result), though it is the first of the second batch.
    assert "rejected at 3: request_id already names a different result" in captured.err


def test_a_bad_file_or_no_database_is_one_line(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", str(tmp_path / "absent.json")]) == 2
    assert "absent.json: no such file" in capsys.readouterr().err
    monkeypatch.delenv("SUPERBENCHMARK_DATABASE_URL")
    assert cli.main(["import", str(SEED_FILE)]) == 2
    assert "SUPERBENCHMARK_DATABASE_URL" in capsys.readouterr().err
    assert migrate.main([]) == 1


def test_migrating_sqlite_packs_the_results_already_stored(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from alembic import command  # noqa: PLC0415 - only this test drives Alembic to an older revision
    from alembic.config import Config  # noqa: PLC0415 - as above

    from src.adapters.sql_store.database import _MIGRATIONS, connect  # noqa: PLC0415 - as above
    from src.domain.result_columns import row_of  # noqa: PLC0415 - rows as the store writes them

    stored = [
        BenchmarkResult.from_mapping(record(f"r{i}", f"2024-06-01T12:{i % 3:02d}:{i:02d}Z", token_count=i) | extra)
        for i, extra in enumerate([{}, {"model": "m"}, {"model": "m"}, {}, {"model": "n"}] * 4)
    ]
    engine = connect(database_url(sqlite_url))
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        # Revision 0001 has the first ten columns; the others came later.
        rows = [row_of(r)[:10] for r in stored]
        connection.exec_driver_sql(f"INSERT INTO results VALUES ({', '.join('?' * 10)})", rows)
    engine.dispose()
    assert migrate.main([]) == 0
    assert capsys.readouterr().out.strip() == "schema at revision 0007 (was 0001)"
    store = open_sql_store(database_url(sqlite_url))
    reference = FakeResultStore(stored)
    for query in (SummaryQuery(), SummaryQuery(group_by=Grouping(), bucket_width=60_000_000)):
        assert_same_summaries(store.summarize(query), reference.summarize(query))
    store.close()
