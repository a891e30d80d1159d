"""Settings from the environment and .env, and the container choosing a store from them."""

from pathlib import Path

import pytest

from src.adapters.json_store.store import JsonFileResultStore
from src.adapters.production_placeholder import ProductionPlaceholderStore
from src.entrypoints.container import Container
from src.entrypoints.settings import Settings, SettingsError, load_settings
from tests.support import SEED_FILE


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SUPERBENCHMARK_DEBUG", "SUPERBENCHMARK_DATA_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.mark.parametrize(
    ("word", "debug"),
    [("true", True), ("TRUE", True), ("Yes", True), ("1", True), ("false", False), ("No", False), ("0", False)],
)
def test_debug_accepts_the_documented_words_in_any_case(
    monkeypatch: pytest.MonkeyPatch, word: str, debug: bool
) -> None:
    monkeypatch.setenv("SUPERBENCHMARK_DEBUG", word)
    assert load_settings().debug is debug


@pytest.mark.parametrize("word", ["on", "maybe", "2", "", "truee"])
def test_any_other_debug_value_stops_startup_naming_the_variable(monkeypatch: pytest.MonkeyPatch, word: str) -> None:
    monkeypatch.setenv("SUPERBENCHMARK_DEBUG", word)
    with pytest.raises(SettingsError, match=r"^SUPERBENCHMARK_DEBUG: expected true/false/1/0/yes/no"):
        load_settings()


def test_debug_is_off_when_unset() -> None:
    assert load_settings().debug is False


def test_a_misspelt_setting_stops_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERBENCHMARK_DEBGU", "true")
    with pytest.raises(SettingsError, match=r"^SUPERBENCHMARK_DEBGU: unknown setting"):
        load_settings()


def test_the_dotenv_file_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SUPERBENCHMARK_DEBUG=yes\nSUPERBENCHMARK_DATA_FILE=from-dotenv.json\n")
    settings = load_settings()
    assert (settings.debug, settings.data_file) == (True, Path("from-dotenv.json"))
    monkeypatch.setenv("SUPERBENCHMARK_DEBUG", "no")
    assert load_settings().debug is False


def test_a_bad_value_in_dotenv_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SUPERBENCHMARK_DEBUG=perhaps\n")
    with pytest.raises(SettingsError, match=r"^SUPERBENCHMARK_DEBUG: "):
        load_settings()


def test_an_unknown_setting_in_dotenv_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SUPERBENCHMARK_DEBUG=true\nSUPERBENCHMARK_DATAFILE=x.json\n")
    with pytest.raises(SettingsError, match=r"^SUPERBENCHMARK_DATAFILE: "):
        load_settings()


def test_other_applications_variables_in_dotenv_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=postgres://elsewhere\nSUPERBENCHMARK_DEBUG=true\n")
    assert load_settings().debug is True


def test_debug_selects_the_json_file_store() -> None:
    container = Container()
    container.config.from_pydantic(Settings(debug=True, data_file=SEED_FILE))
    store = container.result_store()
    assert isinstance(store, JsonFileResultStore)
    assert store.aggregate().count == 5
    assert container.result_store() is store


def test_no_debug_selects_the_production_placeholder() -> None:
    container = Container()
    container.config.from_pydantic(Settings(debug=False, data_file=Path("does-not-exist.json")))
    assert isinstance(container.result_store(), ProductionPlaceholderStore)


REPLICA = "postgresql://reader@replica.internal:5432/results"


@pytest.mark.parametrize(
    ("primary", "replica", "reason"),
    [
        (None, REPLICA, "needs a PostgreSQL primary in SUPERBENCHMARK_DATABASE_URL, which is unset"),
        ("sqlite:///results.db", REPLICA, "needs a PostgreSQL primary in SUPERBENCHMARK_DATABASE_URL, which is not"),
        ("postgresql://writer@primary.internal/results", "sqlite:///replica.db", "must be a PostgreSQL standby"),
        ("postgresql://writer@primary.internal/results", "mysql://reader@replica/x", "expected postgresql://"),
    ],
)
def test_a_read_replica_only_of_a_postgresql_primary_and_only_postgresql(
    monkeypatch: pytest.MonkeyPatch, primary: str | None, replica: str, reason: str
) -> None:
    monkeypatch.delenv("SUPERBENCHMARK_DATABASE_URL", raising=False)
    if primary is not None:
        monkeypatch.setenv("SUPERBENCHMARK_DATABASE_URL", primary)
    monkeypatch.setenv("SUPERBENCHMARK_READ_DATABASE_URL", replica)
    with pytest.raises(SettingsError, match=r"^SUPERBENCHMARK_READ_DATABASE_URL: ") as refusal:
        load_settings()
    assert reason in str(refusal.value)
    assert "\n" not in str(refusal.value)


def test_reads_go_to_the_replica_only_with_a_postgresql_primary_and_no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERBENCHMARK_DATABASE_URL", "postgresql://writer@primary.internal/results")
    monkeypatch.setenv("SUPERBENCHMARK_READ_DATABASE_URL", REPLICA)
    assert (load_settings().result_store, load_settings().read_store) == ("sql", "replica")
    monkeypatch.setenv("SUPERBENCHMARK_DEBUG", "true")
    assert (load_settings().result_store, load_settings().read_store) == ("json_file", "primary")
    monkeypatch.delenv("SUPERBENCHMARK_DEBUG")
    monkeypatch.setenv("SUPERBENCHMARK_READ_DATABASE_URL", "")
    assert load_settings().read_store == "primary"


@pytest.mark.parametrize(
    ("keys", "shown"),
    [("clé-0123456789abcdef", "'é'"), ("key with spaces 0123", "' '"), ("abc=def0123456789abc", "'='")],
)
def test_a_key_no_bearer_header_can_carry_stops_startup_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, keys: str, shown: str
) -> None:
    # A header arrives as Latin-1 bytes and a key was compared as UTF-8: such a key never matched.
    monkeypatch.setenv("SUPERBENCHMARK_API_KEYS", f"good-key-0123456789,{keys}")
    with pytest.raises(SettingsError, match=r"^SUPERBENCHMARK_API_KEYS: a key may hold only ASCII") as refused:
        load_settings()
    assert shown in str(refused.value)
    assert keys not in str(refused.value)


def test_keys_of_the_bearer_token_alphabet_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "Az09-._~+/Az09-._~+/=="
    monkeypatch.setenv("SUPERBENCHMARK_API_KEYS", key)
    assert load_settings().api_key_set == (key,)


def test_slow_and_greedy_clients_are_bounded_by_default() -> None:
    settings = load_settings()
    assert (settings.header_timeout_seconds, settings.body_idle_timeout_seconds) == (10.0, 30.0)
    assert (settings.max_connections, settings.max_connections_per_client) == (4096, 256)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUPERBENCHMARK_HEADER_TIMEOUT_SECONDS", "0"),
        ("SUPERBENCHMARK_HEADER_TIMEOUT_SECONDS", "inf"),
        ("SUPERBENCHMARK_BODY_IDLE_TIMEOUT_SECONDS", "-1"),
        ("SUPERBENCHMARK_BODY_IDLE_TIMEOUT_SECONDS", "nan"),
        ("SUPERBENCHMARK_MAX_CONNECTIONS", "0"),
        ("SUPERBENCHMARK_MAX_CONNECTIONS_PER_CLIENT", "-1"),
        ("SUPERBENCHMARK_MAX_CONNECTIONS", "many"),
        ("SUPERBENCHMARK_SHUTDOWN_GRACE_SECONDS", "0"),
        ("SUPERBENCHMARK_SHUTDOWN_GRACE_SECONDS", "2.5"),
        ("SUPERBENCHMARK_LOG_FORMAT", "xml"),
    ],
)
def test_a_bound_that_bounds_nothing_stops_startup(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: "):
        load_settings()


def test_no_cap_per_client_is_zero_and_fractions_of_a_second_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERBENCHMARK_MAX_CONNECTIONS_PER_CLIENT", "0")
    monkeypatch.setenv("SUPERBENCHMARK_HEADER_TIMEOUT_SECONDS", "2.5")
    settings = load_settings()
    assert (settings.max_connections_per_client, settings.header_timeout_seconds) == (0, 2.5)


def test_operations_settings_default_to_text_logs_and_a_30_second_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.log_format, settings.shutdown_grace_seconds) == ("text", 30)
    monkeypatch.setenv("SUPERBENCHMARK_LOG_FORMAT", " JSON ")
    monkeypatch.setenv("SUPERBENCHMARK_SHUTDOWN_GRACE_SECONDS", "5")
    settings = load_settings()
    assert (settings.log_format, settings.shutdown_grace_seconds) == ("json", 5)


def test_a_bad_log_format_is_named_with_the_words_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERBENCHMARK_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match=r"^SUPERBENCHMARK_LOG_FORMAT: expected text or json, got 'xml'$"):
        load_settings()
