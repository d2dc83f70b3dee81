"""Fuzzing what the console reads before it starts: the config file and the credentials (file or environment).

Contract, per input: a checked config (or credentials the console can actually sign with), or `ConfigError`
with a message naming the file; no other exception. Derandomized for CI; the classic hostile inputs are
explicit examples.
"""

from __future__ import annotations

import asyncio
import os
import tomllib
from pathlib import Path

import httpx
import pytest
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from balance_tui.config import DEFAULTS, Config, ConfigError, LoadedConfig, load_config, load_credentials
from balance_tui.core import redaction
from balance_tui.kraken import credentials as credentials_module
from balance_tui.kraken.credentials import Credentials
from balance_tui.kraken.nonce import PersistentNonceSource
from balance_tui.kraken.rest import KrakenError, KrakenRest

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SHIPPED = tomllib.loads(DEFAULTS.read_text())
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="

DEEP_ARRAY = "a = " + "[" * 10_000 + "]" * 10_000
DEEP_TABLE = "a = " + "{b = " * 3_000 + "1" + "}" * 3_000
CLASSIC_STRINGS = [
    "1e400", "NaN", "Infinity", "-0", "\u0661\u0662\u0663", "\uff11\uff12", "0." + "1" * 30, "x" * 100_000,
    "a\x00b", "", " ", "sqlite:///\x00", "postgresql+psycopg://u@h:99999/db", "sqlite://:port", "mysql://x",
]  # fmt: skip

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**64), 10**30]),
    st.floats(),  # nan, inf and -0.0 included
    st.text(max_size=20),
    st.sampled_from(CLASSIC_STRINGS),
    st.datetimes(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def overrides(draw: st.DrawFn) -> dict[str, object]:
    """A config file as an operator might get it wrong: real sections and keys, any values, a stray key."""
    data: dict[str, object] = {}
    for section in draw(st.lists(st.sampled_from(sorted(SHIPPED)), max_size=4, unique=True)):
        keys = sorted(SHIPPED[section]) if isinstance(SHIPPED[section], dict) else []
        chosen = draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)) if keys else []
        table = {key: draw(toml_values) for key in chosen}
        if draw(st.booleans()):
            table[draw(st.text(max_size=8))] = draw(toml_values)
        data[section] = table
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.text(max_size=8))] = draw(toml_values)
    return data


@pytest.fixture
def own_secret_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzzed keys and secrets are registered as secrets; keep them out of the process-wide registry, where
    they would mask text in every later test's log lines."""
    monkeypatch.setattr(credentials_module, "SECRETS", redaction.SecretRegistry())


def load(path: Path, text: str | bytes, env: dict[str, str] | None = None) -> LoadedConfig | None:
    """The config loaded from `text`, or None after a clean ConfigError naming the file."""
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        loaded = load_config(path, env=env or {})
    except ConfigError as exc:
        assert str(exc), "a ConfigError must say what is wrong"
        assert all(line.startswith((str(path), "$DATABASE_URL")) for line in str(exc).splitlines()), str(exc)
        return None
    assert isinstance(loaded.config, Config) and loaded.path == path
    return loaded


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
@example(b"\xff\xfe[store]")
@example("[store]\ndatabase_url = '\udcff'")  # not UTF-8 on disk: a lone surrogate written as its bytes
@example(DEEP_ARRAY)
@example(DEEP_TABLE)
@example("\x00")
@example("[sim]\nseed = " + "9" * 5000)
@example("[engine]\nchange_threshold = 1e400")
@example("[engine]\nchange_threshold = nan")
@example("[feed]\nstale_after_s = inf")
@example("[cache]\nmax_entries = -0")
@example("[guard.minimums]\nUSD = '" + "1" * 100_000 + "'")
@example("[ui]\ntheme = '" + "x" * 100_000 + "'")
@example('[engine]\nchange_threshold = "0.' + "1" * 30 + '"')
@example('[engine]\nchange_threshold = "\u0661\u0662\u0663"')
def test_any_config_text_is_a_config_or_a_config_error(tmp_path: Path, text: str | bytes) -> None:
    load(tmp_path / "config.toml", text)


@FUZZ
@given(overrides())
@example({"store": {"database_url": "sqlite:///\x00"}})
@example({"store": {"database_url": "postgresql+psycopg://u@h:99999/db"}})
@example({"store": {"database_url": "sqlite://:port"}})
@example({"guard": {"minimums": {"USD": "NaN", "EUR": "-0", "\x00": "1"}}})
@example({"validation": {"ceilings": {"BTC": "1e400"}, "severity": {"stale_data": "x" * 100_000}}})
@example({"keymap": {"app.quit": "\x00", "nope": "q"}})
@example({"ui": {"refresh_hz": 2**64}})
def test_any_value_under_any_key_is_a_config_or_a_config_error(tmp_path: Path, data: dict[str, object]) -> None:
    load(tmp_path / "config.toml", tomli_w.dumps(data))


@FUZZ
@given(st.text(max_size=80))
@example("sqlite:///\x00")
@example("\udcff")
@example("postgresql+psycopg://u@h:port/db")
@example("%" * 1000)
def test_any_database_url_in_the_environment_is_taken_or_a_config_error(tmp_path: Path, url: str) -> None:
    load(tmp_path / "config.toml", "", env={"DATABASE_URL": url})


# --- credentials ---------------------------------------------------------------------------------------------


def usable(credentials: Credentials, tmp_path: Path) -> None:
    """Credentials that were accepted must work: a nonce file named for the key, and a signed request sent."""
    key = credentials.api_key.get_secret_value()
    PersistentNonceSource(tmp_path / "nonces", key).next()

    async def signed_call() -> None:
        reply = b'{"error":["EAPI:Invalid key"]}'
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=reply))  # Kraken, verbatim
        async with httpx.AsyncClient(transport=transport) as http:
            rest = KrakenRest(http, "https://api.kraken.com", credentials, PersistentNonceSource(tmp_path, key))
            with pytest.raises(KrakenError, match="EAPI:Invalid key"):
                await rest.websockets_token()

    asyncio.run(signed_call())


def read_credentials(tmp_path: Path, content: bytes | None, env: dict[str, str]) -> None:
    path = tmp_path / "credentials.toml"
    if content is not None:
        path.write_bytes(content)
        os.chmod(path, 0o600)
    config = load_config(env={}).config
    config = config.model_copy(
        update={"exchange": config.exchange.model_copy(update={"name": "kraken", "credentials_file": str(path)})}
    )
    try:
        credentials = load_credentials(config, env=env)
    except ConfigError as exc:
        assert str(exc), "a ConfigError must say what is wrong"
        for value in env.values():
            assert len(value) < 8 or value not in str(exc), "a refusal must not repeat the key or the secret"
        return
    usable(credentials, tmp_path)


def credentials_toml(key: object, secret: object) -> bytes:
    return tomli_w.dumps({"api_key": key, "api_secret": secret}).encode()


secret_texts = st.one_of(st.just(SECRET), st.text(max_size=30), st.sampled_from(CLASSIC_STRINGS))


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.builds(credentials_toml, st.text(max_size=30), secret_texts),
        st.builds(credentials_toml, toml_values, toml_values),
    )
)
@example(credentials_toml("my-key", SECRET))  # the control: these are read and used
@example(b"\xff\xfe")
@example(DEEP_ARRAY.encode())
@example(credentials_toml("", SECRET))
@example(credentials_toml("k\x00y", SECRET))
@example(credentials_toml("\u043a\u043b\u044e\u0447", SECRET))  # Cyrillic: cannot be an HTTP header
@example(credentials_toml("a key", SECRET))
@example(credentials_toml("key", ""))
@example(credentials_toml("key", "x" * 100_000))
@example(credentials_toml("key", "AAAA\x00"))
@example(b'api_key = "key"\napi_secret = "' + SECRET.encode() + b'"\nextra = 1')
def test_any_credentials_file_gives_usable_credentials_or_a_config_error(
    own_secret_registry: None, tmp_path: Path, content: bytes
) -> None:
    read_credentials(tmp_path, content, env={})


@FUZZ
@given(key=st.text(max_size=30), secret=secret_texts)
@example(key="my-key", secret=SECRET)  # the control: these are read and used
@example(key="key\udcff", secret=SECRET)  # an undecodable byte in the environment
@example(key="key", secret=SECRET + "\udcff")
@example(key="\u043a\u043b\u044e\u0447", secret=SECRET)
@example(key="key\n", secret=SECRET)
@example(key="k", secret="")
def test_any_credentials_in_the_environment_are_usable_or_a_config_error(
    own_secret_registry: None, tmp_path: Path, key: str, secret: str
) -> None:
    read_credentials(tmp_path, None, env={"KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret})
