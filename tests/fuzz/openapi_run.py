"""`make fuzz`: serve the app over real HTTP and run schemathesis over its own OpenAPI schema.

Every check runs but one, not_a_server_error among them: any 5xx, an undocumented status, or a body
that does not match the schema fails the run. The one left out, positive_data_acceptance, expects
every schema-valid request to succeed; a reversed window is two valid strings that rightly get a
422, and a schema cannot relate one path parameter to another.

Three apps are fuzzed: the DEBUG app on the seed file, without a key (writes are refused), and the
production app on SQLite and on PostgreSQL, with a key, so that writes reach the store. The hooks
add what a schema never generates: NUL, dates at the ends of the calendar, numbers posing as
timestamps, and JSON nested thousands deep.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.databases import SQL_KINDS, scratch_database
from tests.support import SEED_FILE, serving

SCHEMATHESIS = Path(sys.executable).with_name("st")
KEY = "fuzzing-key-0123456789"


def fuzz(base_url: str, max_examples: int, *headers: str) -> int:
    return subprocess.call(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            str(max_examples),
            "--no-color",
            *(part for header in headers for part in ("-H", header)),
        ],
        env=os.environ | {"SCHEMATHESIS_HOOKS": "tests.fuzz.hooks"},
    )


def main() -> int:
    max_examples = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    with serving(create_app(Settings(debug=True, data_file=SEED_FILE))) as base_url:
        debug_outcome = fuzz(base_url, max_examples)
    outcomes = [debug_outcome]
    with tempfile.TemporaryDirectory() as directory:
        for kind in SQL_KINDS:
            with scratch_database(kind, Path(directory)) as url:
                app = create_app(Settings(debug=False, database_url=url, api_keys=KEY))
                with serving(app) as base_url:
                    outcomes.append(fuzz(base_url, max_examples, f"Authorization: Bearer {KEY}"))
                app.state.container.result_store().close()
    return next((outcome for outcome in outcomes if outcome), 0)


if __name__ == "__main__":
    sys.exit(main())
