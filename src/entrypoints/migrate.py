"""`python -m src.entrypoints.migrate`: bring SUPERBENCHMARK_DATABASE_URL's schema to this version's."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import DBAPIError

from src.adapters.sql_store.database import connect, database_url, driver_reason, migrate
from src.entrypoints.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Migrate, or print the usage for --help (exit 0) or an unknown argument (exit 2): a command
    that changes a database does nothing it was not plainly asked to."""
    argparse.ArgumentParser(
        prog="python -m src.entrypoints.migrate",
        description="Bring SUPERBENCHMARK_DATABASE_URL's schema to this version's revision (Alembic); "
        "a database already there is left as it is.",
    ).parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"superbenchmark: cannot migrate: {error}", file=sys.stderr)
        return 1
    if settings.database_url is None:
        print("superbenchmark: cannot migrate: set SUPERBENCHMARK_DATABASE_URL", file=sys.stderr)
        return 1
    engine = connect(database_url(settings.database_url), pool_size=1)
    try:
        before, after = migrate(engine)
    except DBAPIError as error:
        print(f"superbenchmark: cannot migrate: {driver_reason(error.orig or error)}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"schema at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
