"""Settings from the environment and `.env`: prefix SUPERBENCHMARK_, bad values stop startup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import ValidationError, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SUPERBENCHMARK_"
ENV_FILE = ".env"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class SettingsError(Exception):
    """A setting is unknown or has a value the service cannot run with; the message names it."""


class Settings(BaseSettings):
    # Other applications' variables may share a .env file: only our prefix is checked (below).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore", frozen=True)

    debug: bool = False
    """true: serve the JSON data file (read-only); false: the production store."""

    data_file: Path = Path("test_database.json")
    """The JSON file the DEBUG store reads once at startup."""

    @field_validator("debug", mode="before")
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def result_store(self) -> Literal["json_file", "production_placeholder"]:
        return "json_file" if self.debug else "production_placeholder"


def load_settings() -> Settings:
    """Settings from the environment and `.env`, or a SettingsError naming the variable at fault."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    # pydantic-settings ignores unknown prefixed variables; a misspelt setting must not pass silently.
    given = set(os.environ) | set(dotenv_values(ENV_FILE) if Path(ENV_FILE).is_file() else {})
    unknown = sorted(name for name in given if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting; known settings are {', '.join(sorted(known))}")
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = ENV_PREFIX + "_".join(str(part) for part in first["loc"]).upper()
        raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
