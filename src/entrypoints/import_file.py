"""`python -m src.entrypoints.import_file FILE`: load a seed-format result file into the configured database.

The file is validated whole first (as the DEBUG store validates it), then stored in batches of
SUPERBENCHMARK_IMPORT_BATCH_ROWS, each one transaction. Results already stored are skipped, so an
interrupted import is finished by running it again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from src.adapters.json_store.result_file import ResultFileError, as_result, read_result_records
from src.adapters.sql_store.database import database_url
from src.adapters.sql_store.store import SqlResultStore
from src.application.store_results import ImportReport, ImportResults
from src.domain.errors import StoreUnavailable
from src.entrypoints.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load a seed-format JSON result file into the database.")
    parser.add_argument("file", type=Path)
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings()
        if settings.database_url is None:
            raise SettingsError("SUPERBENCHMARK_DATABASE_URL: set it to the database to import into")
        records = read_result_records(arguments.file)
    except (SettingsError, ResultFileError) as error:
        print(f"superbenchmark: cannot import: {error}", file=sys.stderr)
        return 1
    store = SqlResultStore.open(database_url(settings.database_url))
    import_results, report = ImportResults(store), ImportReport()
    size = settings.import_batch_rows
    try:
        with tqdm(total=len(records), unit="result", disable=None) as progress:
            for first in range(0, len(records), size):
                batch = [as_result(record) for record in records[first : first + size]]
                # Rejections name the result's index in the file, not in its batch.
                import_results.store_valid(batch, report, range(first, first + len(batch)))
                progress.update(len(batch))
    except StoreUnavailable as error:
        print(
            f"superbenchmark: import stopped: {error}; before it stopped: stored {report.stored}, "
            f"already stored {report.already_stored}, rejected {report.rejected}; run it again to go on",
            file=sys.stderr,
        )
        return 1
    finally:
        store.close()
    print(f"stored {report.stored}, already stored {report.already_stored}, rejected {report.rejected}")
    for rejection in report.errors:
        print(f"  rejected: {rejection}", file=sys.stderr)
    return 0 if report.rejected == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
