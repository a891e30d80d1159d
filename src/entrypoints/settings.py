"""Settings from the environment and `.env`: prefix SUPERBENCHMARK_, bad values stop startup."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import ValidationError, ValidationInfo, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SUPERBENCHMARK_"
ENV_FILE = ".env"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
# Read by the test suite, not by the service; they may share its environment.
TEST_SETTINGS = frozenset({ENV_PREFIX + "TEST_DATABASE_URL", ENV_PREFIX + "REQUIRE_POSTGRES"})
# Read by the command line (its key for a server), not by the service, which may share its environment.
CLIENT_SETTINGS = frozenset({ENV_PREFIX + "API_KEY"})
MIN_API_KEY_LENGTH = 16
_B64TOKEN_CHARACTER = re.compile(r"[A-Za-z0-9\-._~+/]", re.ASCII)
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*", re.ASCII)


class SettingsError(Exception):
    """A setting is unknown or has a value the service cannot run with; the message names it."""


class Settings(BaseSettings):
    # Other applications' variables may share a .env file: only our prefix is checked (below).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore", frozen=True)

    debug: bool = False
    """true: serve the JSON data file (read-only); false: the production store."""

    data_file: Path = Path("test_database.json")
    """The JSON file the DEBUG store reads once at startup."""

    database_url: str | None = None
    """The production database: postgresql://user@host:port/database or sqlite:///path."""

    read_database_url: str | None = None
    """A PostgreSQL streaming replica of database_url (which must be PostgreSQL too): averages,
    statistics, listings and runs are read from it, from database_url while it is unavailable."""

    api_keys: str = ""
    """Comma-separated keys that may write (Authorization: Bearer <key>); none means no writes."""

    read_requires_key: bool = False
    """true: reads need a key too."""

    max_body_bytes: int = 32 * 1024 * 1024
    """The largest POST /results body, and the longest line of an import, in bytes."""

    max_import_bytes: int = 4 * 1024**3
    """The largest POST /results/import body, in bytes: it is spooled to disk, not held in memory."""

    import_batch_rows: int = 10_000
    """Lines of an import stored per transaction: the memory an import holds (some 1 KB a line) and
    the work a failure undoes. PostgreSQL merges each transaction's results into the summaries of
    every bucket they touch, so fewer, larger transactions write far less: a year's results in
    random order touch every hour's bucket in each transaction."""

    max_statistics_results: int = 2_000_000
    """The most results one comparison or histogram may read (its window's count, before model and
    label filters); a larger window is refused with a problem instead of running long. Statistics
    and time series have no such limit: their cost follows the answer's size."""

    exact_percentile_results: int = 20_000
    """PostgreSQL: statistics over at most this many results (the selection's, failures included)
    give exact percentiles, read row by row; larger selections' percentiles come from quantile
    sketches kept with the rollups, within 1% of the exact value (the answer says which)."""

    averages_mirror_results: int = 2_000_000
    """PostgreSQL: a store of at most this many results is copied into each serving process (about
    100 bytes a result), which then answers window averages from memory while its copy is current,
    kept so by the database's notifications; 0 never copies. A read replica never copies."""

    header_timeout_seconds: float = 10.0
    """Seconds a connection has to send its request line and headers, from its accept or from the
    answer to its previous request."""

    body_idle_timeout_seconds: float = 30.0
    """Seconds without a byte of a request body, while the server waits for one, before the
    connection is closed."""

    max_connections: int = 4096
    """Connections this process holds open at once; more are closed as they are accepted."""

    max_connections_per_client: int = 256
    """Connections one client address may hold open at once; 0 means no such cap (behind a proxy)."""

    shutdown_grace_seconds: int = 30
    """Whole seconds a stopping server (SIGTERM) lets requests in flight run to their end before it cancels them."""

    log_format: Literal["text", "json"] = "text"
    """text: one readable line per record; json: one JSON object per line, for a log collector."""

    @field_validator("log_format", mode="before")
    @classmethod
    def _a_known_log_format(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"text", "json"}:
            return value.strip().lower()
        if isinstance(value, str):
            raise ValueError(f"expected text or json, got {value!r}")
        return value

    @field_validator("debug", "read_requires_key", mode="before")
    @classmethod
    def _one_of_the_documented_words(cls, value: object) -> object:
        # pydantic alone would also take "on", "t", "y"...; the documented words are the contract.
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            raise ValueError(f"expected true/false/1/0/yes/no (any case), got {value!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _a_database_we_drive(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        _backend(value.strip())
        return value.strip()

    @field_validator("read_database_url")
    @classmethod
    def _a_postgresql_replica_of_a_postgresql_primary(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Runs after database_url's validator (fields are validated in order), which left it in info.data.
        if value is None or not value.strip():
            return None
        if _backend(value.strip()) != "postgresql":
            raise ValueError("a read replica must be a PostgreSQL standby: postgresql://user@host:port/database")
        primary = info.data.get("database_url")
        if primary is None or _backend(primary) != "postgresql":
            raise ValueError(
                f"a read replica needs a PostgreSQL primary in {ENV_PREFIX}DATABASE_URL, "
                f"which is {'unset' if primary is None else 'not PostgreSQL'}"
            )
        return value.strip()

    @field_validator("api_keys")
    @classmethod
    def _keys_a_client_can_send(cls, value: str) -> str:
        # A key is sent as `Authorization: Bearer <key>`, whose token is a b64token (RFC 6750,
        # section 2.1): ASCII only. A key outside it could never match, since a header arrives as
        # Latin-1 bytes; it is refused here rather than left to fail every request. The message
        # shows the offending character, never the key.
        for key in _split(value):
            if len(key) < MIN_API_KEY_LENGTH:
                raise ValueError(f"every key needs at least {MIN_API_KEY_LENGTH} characters; one has {len(key)}")
            if _B64TOKEN.fullmatch(key) is None:
                offending = next((c for c in key if _B64TOKEN_CHARACTER.fullmatch(c) is None), "=")
                raise ValueError(
                    "a key may hold only ASCII letters, digits and - . _ ~ + / and end in = "
                    f"(an RFC 6750 bearer token); one holds {offending!r}"
                )
        return value

    @field_validator("header_timeout_seconds", "body_idle_timeout_seconds")
    @classmethod
    def _a_real_time(cls, value: float) -> float:
        # pydantic reads "inf" and "nan" as floats: neither would bound anything.
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"must be a number of seconds above 0, got {value}")
        return value

    @field_validator("max_connections_per_client", "exact_percentile_results", "averages_mirror_results")
    @classmethod
    def _zero_or_positive(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"must be 0 or more, got {value}")
        return value

    @field_validator(
        "max_body_bytes",
        "max_import_bytes",
        "import_batch_rows",
        "max_statistics_results",
        "max_connections",
        "shutdown_grace_seconds",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def result_store(self) -> Literal["json_file", "sql", "production_placeholder"]:
        if self.debug:
            return "json_file"
        return "sql" if self.database_url else "production_placeholder"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def read_store(self) -> Literal["primary", "replica"]:
        """Where reads go: the store writes go to, or the read replica in front of it."""
        return "replica" if self.result_store == "sql" and self.read_database_url else "primary"

    @property
    def api_key_set(self) -> tuple[str, ...]:
        return tuple(_split(self.api_keys))


def _backend(url: str) -> str:
    """The URL's database (postgresql or sqlite); a ValueError saying what is expected if it is neither."""
    # Imported here: SQLAlchemy is only worth its import time when a database is configured.
    from src.adapters.sql_store.database import DatabaseUrlError, database_url  # noqa: PLC0415 - imported late on purpose, see above

    try:
        return database_url(url).get_backend_name()
    except DatabaseUrlError as error:
        raise ValueError(str(error)) from None


def _split(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


def load_settings() -> Settings:
    """Settings from the environment and `.env`, or a SettingsError naming the variable at fault."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    # pydantic-settings ignores unknown prefixed variables; a misspelt setting must not pass silently.
    given = set(os.environ) | set(dotenv_values(ENV_FILE) if Path(ENV_FILE).is_file() else {})
    unknown = sorted(
        name
        for name in given
        if name.upper().startswith(ENV_PREFIX)
        and name.upper() not in known
        and name.upper() not in TEST_SETTINGS | CLIENT_SETTINGS
    )
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting; known settings are {', '.join(sorted(known))}")
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = ENV_PREFIX + "_".join(str(part) for part in first["loc"]).upper()
        raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
