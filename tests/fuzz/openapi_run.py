"""`make fuzz`: serve the app over real HTTP and run schemathesis over its own OpenAPI schema.

Every check runs but one, not_a_server_error among them: any 5xx, an undocumented status, or a body
that does not match the schema fails the run. The one left out, positive_data_acceptance, expects
every schema-valid request to succeed; a reversed window is two valid strings that rightly get a
422, and a schema cannot relate one path parameter to another.

The DEBUG app is the one fuzzed: the production placeholder answers 503 to every query by design.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from src.entrypoints.http.app import create_app
from src.entrypoints.settings import Settings
from tests.support import SEED_FILE, serving

SCHEMATHESIS = Path(sys.executable).with_name("st")


def main() -> int:
    max_examples = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with serving(create_app(Settings(debug=True, data_file=SEED_FILE))) as base_url:
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
            ]
        )


if __name__ == "__main__":
    sys.exit(main())
