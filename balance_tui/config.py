"""Configuration: shipped defaults, one file laid over them, validated strictly before anything starts."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from balance_tui.kraken.credentials import Credentials

APP_NAME = "balance-tui"
CONFIG_ENV = "BALANCE_TUI_CONFIG"
DEFAULTS = files("balance_tui") / "config.toml"


class ConfigError(Exception):
    """A configuration or credentials problem; the message names the file, the key and what is allowed."""


def _exact_decimal(value: object) -> Decimal:
    """Amounts are written as strings ("2.50"): a TOML float is binary and would not be exact."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f'write amounts as strings, e.g. "2.50", so they stay exact (got {value!r})')
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return amount


Amount = Annotated[Decimal, BeforeValidator(_exact_decimal)]
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
    updates_per_second: float = Field(ge=0, le=1000)


class StoreConfig(_Section):
    database_url: str = Field(min_length=1)
    read_only: bool
    history_retention_hours: float = Field(gt=0)
    resume_window_hours: float = Field(ge=0)
    resume_from_last_balance: bool
    session_lease_s: float = Field(ge=3)
    base_currency: str = Field(min_length=1, max_length=16)


class FeedConfig(_Section):
    stale_after_s: float = Field(gt=0)
    snapshot_timeout_s: float = Field(gt=0)


class EngineConfig(_Section):
    change_threshold: Amount = Field(gt=0)
    fallback_poll_s: float = Field(ge=1)
    value_in: str = Field(min_length=1, max_length=16)


class RestConfig(_Section):
    tier: Literal["starter", "intermediate", "pro"]


class CacheConfig(_Section):
    ttl_s: float = Field(gt=0)
    max_entries: int = Field(ge=1)


class HistoryConfig(_Section):
    max_entries_per_asset: int = Field(ge=2)
    retention_hours: float = Field(gt=0)


class GuardConfig(_Section):
    safety_buffer: Amount = Field(ge=0)
    max_position_share: Amount = Field(gt=0, le=1)
    max_data_age_s: float = Field(gt=0)
    minimums: dict[str, Amount]


class ValidationConfig(_Section):
    disabled: list[RuleName]
    severity: dict[RuleName, Literal["info", "warning", "error", "critical"]]
    stale_after_s: float = Field(gt=0)
    inconsistency_threshold: Amount = Field(gt=0)
    inconsistency_fresh_s: float = Field(gt=0)
    ceiling: Amount = Field(gt=0)
    ceilings: dict[str, Amount]
    low_balance: dict[str, Amount]


class UIConfig(_Section):
    theme: str = Field(min_length=1)
    refresh_hz: int = Field(ge=2, le=10)


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
    keymap: dict[str, str]

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
    found = path or _find_config_file(env)
    defaults = tomllib.loads(DEFAULTS.read_text())
    overrides: dict[str, Any] = {}
    if found is not None:
        try:
            overrides = tomllib.loads(found.read_text())
        except OSError as exc:
            raise ConfigError(f"{found}: cannot read the config file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{found}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(_merge(defaults, overrides))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, found or Path(str(DEFAULTS)))) from None
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
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
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
    lines = [f"{path}: invalid configuration"]
    for error in exc.errors():
        *section, key = [str(part) for part in error["loc"]] or ["(top level)"]
        where = f"[{'.'.join(section)}] {key}" if section else key
        if error["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown key; allowed here: {', '.join(_allowed_keys(section))}")
        else:
            lines.append(f"  {where}: {error['msg']} (got {error['input']!r})")
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
