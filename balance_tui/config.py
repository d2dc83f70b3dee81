"""Configuration: shipped defaults, one file laid over them, validated strictly before anything starts."""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from balance_tui import ui_names
from balance_tui.kraken.credentials import Credentials
from balance_tui.store.money import AmountError, parse_amount

APP_NAME = "balance-tui"
CONFIG_ENV = "BALANCE_TUI_CONFIG"
DEFAULTS = files("balance_tui") / "config.toml"
# The longest duration anything takes, in the config or on the command line: longer is a typo (or `inf`),
# and would overflow the timedelta it becomes.
MAX_DURATION_YEARS = 10
MAX_DURATION_HOURS = MAX_DURATION_YEARS * 365 * 24
MAX_DURATION_S = MAX_DURATION_HOURS * 3600
# The simulator's activity rate, `[sim] updates_per_second` and `sim --updates-per-second` alike.
MAX_UPDATES_PER_SECOND = 1000


class ConfigError(Exception):
    """A configuration or credentials problem; each line names the file, the key and what is allowed."""


def duration_problem(value: float, unit: str, limit: int) -> str | None:
    """Why `value` is not a duration (finite, above zero, at most 10 years), or None if it is one."""
    if math.isfinite(value) and 0 < value <= limit:
        return None
    return f"expected a number of {unit} above 0 and at most {limit} ({MAX_DURATION_YEARS} years)"


def updates_per_second_problem(value: float) -> str | None:
    """Why `value` is not a simulator activity rate (finite, 0 to MAX_UPDATES_PER_SECOND), or None if it is one."""
    if math.isfinite(value) and 0 <= value <= MAX_UPDATES_PER_SECOND:
        return None
    return f"expected a number of updates a second from 0 (no activity) to {MAX_UPDATES_PER_SECOND}"


def _updates_per_second(value: float) -> float:
    if problem := updates_per_second_problem(value):
        raise ValueError(f"{problem} (got {value:g})")
    return value


def _exact_decimal(value: object) -> Decimal:
    """Amounts are written as strings ("2.50"), read by the same parser as an amount typed on the command line."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f'write amounts as strings, e.g. "2.50", so they stay exact (got {value!r})')
    try:
        return parse_amount(value if isinstance(value, str) else str(value))
    except AmountError as exc:
        raise ValueError(str(exc)) from None


def _at_most(limit: int, unit: str) -> AfterValidator:
    def check(value: float) -> float:
        if value > limit:
            raise ValueError(f"a duration is at most {limit} {unit} ({MAX_DURATION_YEARS} years) (got {value:g})")
        return value

    return AfterValidator(check)


def _theme(name: str) -> str:
    if name not in (known := ui_names.theme_names()):
        raise ValueError(f"no theme named {name!r}; available: {', '.join(sorted(known))}")
    return name


def _binding_id(name: str) -> str:
    if name not in (known := ui_names.binding_ids()):
        raise ValueError(f"no binding has this id; ids: {', '.join(sorted(known))}")
    return name


def _keys(keys: str) -> str:
    """A `[keymap]` value: keys, comma-separated, each one Textual can match (empty would leave the default)."""
    for key in keys.split(","):
        if not key:
            shown = f" in {keys!r}" if keys else ""
            raise ValueError(f"an empty key{shown}; give a key such as 'ctrl+b'")
        if problem := ui_names.key_problem(key):
            raise ValueError(problem)
    return keys


def _keymap(keymap: dict[str, str]) -> dict[str, str]:
    if keymap and (clashes := ui_names.keymap_clashes(keymap)):  # no [keymap]: the TUI's source is not read
        raise ValueError("; ".join(clashes))
    return keymap


def _database_url(url: str) -> str:
    if problem := database_url_problem(_expand(url)):
        raise ValueError(problem)
    return url


def database_url_problem(url: str) -> str | None:
    """Why the store could not use `url` (without repeating it: it may hold a password), or None."""
    # Imported here: SQLAlchemy is for commands that load a config, not for `--help` or `sim`.
    from balance_tui.store.engine import parse_database_url
    from balance_tui.store.errors import DatabaseURLError

    try:
        parse_database_url(url)
    except DatabaseURLError as exc:
        return str(exc)
    return None


Amount = Annotated[Decimal, BeforeValidator(_exact_decimal)]
# Durations: finite (TOML has inf and nan) and at most MAX_DURATION_*; each field adds its lower bound.
Seconds = Annotated[float, Field(allow_inf_nan=False), _at_most(MAX_DURATION_S, "s")]
Hours = Annotated[float, Field(allow_inf_nan=False), _at_most(MAX_DURATION_HOURS, "h")]
RuleName = Literal[
    "negative_balance",
    "negative_free_balance",
    "hold_exceeds_balance",
    "source_inconsistency",
    "unrealistic_balance",
    "stale_data",
    "precision_overflow",
    "all_zero_balances",
    "low_balance",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ExchangeConfig(_Section):
    name: Literal["sim", "kraken"]
    rest_url: str
    ws_private_url: str
    ws_public_url: str
    credentials_file: str


class SimConfig(_Section):
    seed: int
    updates_per_second: Annotated[float, AfterValidator(_updates_per_second)]


class StoreConfig(_Section):
    database_url: Annotated[str, AfterValidator(_database_url)] = Field(min_length=1)
    read_only: bool
    history_retention_hours: Hours = Field(gt=0)
    resume_window_hours: Hours = Field(ge=0)
    resume_from_last_balance: bool
    session_lease_s: Seconds = Field(ge=3)
    base_currency: str = Field(min_length=1, max_length=16)


class FeedConfig(_Section):
    stale_after_s: Seconds = Field(gt=0)
    snapshot_timeout_s: Seconds = Field(gt=0)


class EngineConfig(_Section):
    change_threshold: Amount = Field(gt=0)
    fallback_poll_s: Seconds = Field(ge=1)
    value_in: str = Field(min_length=1, max_length=16)


class RestConfig(_Section):
    tier: Literal["starter", "intermediate", "pro"]


class CacheConfig(_Section):
    ttl_s: Seconds = Field(gt=0)
    max_entries: int = Field(ge=1)


class HistoryConfig(_Section):
    max_entries_per_asset: int = Field(ge=2)
    retention_hours: Hours = Field(gt=0)


class GuardConfig(_Section):
    safety_buffer: Amount = Field(ge=0)
    max_position_share: Amount = Field(gt=0, le=1)
    max_data_age_s: Seconds = Field(gt=0)
    minimums: dict[str, Annotated[Amount, Field(ge=0)]]  # per quote asset, like safety_buffer never below 0


class ValidationConfig(_Section):
    disabled: list[RuleName]
    severity: dict[RuleName, Literal["info", "warning", "error", "critical"]]
    stale_after_s: Seconds = Field(gt=0)
    inconsistency_threshold: Amount = Field(gt=0)
    inconsistency_fresh_s: Seconds = Field(gt=0)
    ceiling: Amount = Field(gt=0)
    ceilings: dict[str, Annotated[Amount, Field(gt=0)]]  # per asset, like ceiling
    low_balance: dict[str, Annotated[Amount, Field(ge=0)]]  # a floor below zero could never fire


class UIConfig(_Section):
    theme: Annotated[str, AfterValidator(_theme)] = Field(min_length=1)
    refresh_hz: int = Field(ge=2, le=10)
    dust_below: Amount = Field(ge=0)


class Config(_Section):
    exchange: ExchangeConfig
    sim: SimConfig
    store: StoreConfig
    feed: FeedConfig
    engine: EngineConfig
    rest: RestConfig
    cache: CacheConfig
    history: HistoryConfig
    guard: GuardConfig
    validation: ValidationConfig
    ui: UIConfig
    keymap: Annotated[
        dict[Annotated[str, AfterValidator(_binding_id)], Annotated[str, AfterValidator(_keys)]],
        AfterValidator(_keymap),
    ]

    @property
    def database_url(self) -> str:
        return _expand(self.store.database_url)

    @property
    def credentials_path(self) -> Path:
        return Path(_expand(self.exchange.credentials_file)).expanduser()


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: Config
    path: Path | None  # the file laid over the defaults, if any


def load_config(path: Path | None = None, env: Mapping[str, str] = os.environ) -> LoadedConfig:
    """The defaults with the first config file found laid over them, every value checked (the theme and the
    keymap too, so a headless command refuses what the TUI would), or `ConfigError` naming the file."""
    found = path or _find_config_file(env)
    defaults = tomllib.loads(DEFAULTS.read_text())
    overrides: dict[str, Any] = {}
    if found is not None:
        try:
            overrides = _read_toml(found)
        except OSError as exc:
            raise ConfigError(f"{found}: cannot read the config file: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"{found}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(_merge(defaults, overrides))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, found or Path(str(DEFAULTS)))) from None
    from balance_tui.store.engine import DATABASE_URL_ENV

    if (url := env.get(DATABASE_URL_ENV)) and (problem := database_url_problem(url)):
        raise ConfigError(f"${DATABASE_URL_ENV} (it wins over [store] database_url): {problem}")
    return LoadedConfig(config, found)


def load_credentials(config: Config, env: Mapping[str, str] = os.environ) -> Credentials:
    """Kraken credentials from the environment, else from a file only its owner can read."""
    key, secret = env.get("KRAKEN_API_KEY"), env.get("KRAKEN_API_SECRET")
    if key or secret:
        if not (key and secret):
            missing = "KRAKEN_API_SECRET" if key else "KRAKEN_API_KEY"
            raise ConfigError(f"KRAKEN_API_KEY and KRAKEN_API_SECRET go together: {missing} is not set")
        return _credentials(key, secret, "the environment")
    path = config.credentials_path
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            "exchange.name is 'kraken' but there are no credentials: set KRAKEN_API_KEY and "
            f"KRAKEN_API_SECRET, or write {path} (mode 0600) with api_key and api_secret"
        ) from None
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{path}: permissions {stat.S_IMODE(info.st_mode):04o} are too open; the credentials file must "
            f"not be accessible by others (run: chmod 600 {path})"
        )
    if info.st_uid != os.getuid():
        raise ConfigError(f"{path}: owned by uid {info.st_uid}, not by you (uid {os.getuid()}); refusing it")
    try:
        data = _read_toml(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the credentials file: {exc}") from None
    unknown = data.keys() - {"api_key", "api_secret"}
    if unknown or not isinstance(data.get("api_key"), str) or not isinstance(data.get("api_secret"), str):
        detail = f"unknown key {sorted(unknown)[0]!r}" if unknown else "api_key or api_secret missing or not a string"
        raise ConfigError(f"{path}: {detail}; the file holds exactly api_key and api_secret, both strings")
    return _credentials(data["api_key"], data["api_secret"], str(path))


def _credentials(key: str, secret: str, origin: str) -> Credentials:
    try:
        return Credentials.of(key, secret)
    except ValueError as exc:
        raise ConfigError(f"credentials from {origin}: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; ValueError for anything that is not TOML in UTF-8: tomllib's own errors, text
    that is not UTF-8, an integer too long to convert, or nesting too deep for the parser."""
    text = path.read_bytes().decode()  # UnicodeDecodeError is a ValueError; read_text() would follow the locale
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _find_config_file(env: Mapping[str, str]) -> Path | None:
    if named := env.get(CONFIG_ENV):
        return Path(named)
    for candidate in (Path("config.toml"), Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """A partial file overrides only what it names, table by table."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError, path: Path) -> str:
    """One line per problem: the file, the key, what is wrong (and what was given, when the message does not
    already say it)."""
    lines = []
    for error in exc.errors():
        # A key with a line break or a control character in it is quoted: one problem stays one line.
        loc = [str(part) if str(part).isprintable() else repr(part) for part in error["loc"]] or ["(top level)"]
        is_key = loc[-1] == "[key]"  # a dict key that is refused, e.g. an unknown [keymap] id
        *section, key = loc[:-1] if is_key else loc
        where = f"[{'.'.join(section)}] {key}" if section else key
        if error["type"] == "extra_forbidden":
            lines.append(f"{path}: {where}: unknown key; allowed here: {', '.join(_allowed_keys(section))}")
        elif error["type"] == "value_error":  # our own validators: the message says what matters
            lines.append(f"{path}: {where}: {error['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{path}: {where}: {error['msg']} (got {error['input']!r})")
    return "\n".join(lines)


def _allowed_keys(section: list[str]) -> list[str]:
    model: type[BaseModel] = Config
    for name in section:
        annotation = model.model_fields[name].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _expand(value: str) -> str:
    return value.replace("{data_dir}", platformdirs.user_data_dir(APP_NAME)).replace(
        "{config_dir}", platformdirs.user_config_dir(APP_NAME)
    )
