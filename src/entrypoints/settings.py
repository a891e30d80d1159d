"""Settings from the environment and `.env`: prefix SUPERBENCHMARK_, bad values stop startup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import ValidationError, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SUPERBENCHMARK_"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class SettingsError(Exception):
    """A setting is unknown or has a value the service cannot run with; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="forbid", frozen=True)

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
    # pydantic-settings ignores unknown prefixed variables; a typo there must not pass silently.
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(name for name in os.environ if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting; known settings are {', '.join(sorted(known))}")
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "_".join(str(part) for part in first["loc"]).upper()
        name = name if name.startswith(ENV_PREFIX) else ENV_PREFIX + name
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown setting; known settings are {', '.join(sorted(known))}"
        raise SettingsError(f"{name}: {message}") from None
