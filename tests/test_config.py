import os
from pathlib import Path

import pytest

from balance_tui.cli import EXIT_CONFIG, main
from balance_tui.config import ConfigError, load_config, load_credentials
from tests.conftest import write_config

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


def test_with_no_file_the_shipped_defaults_run_the_simulator() -> None:
    loaded = load_config(env={})
    assert loaded.path is None
    assert loaded.config.exchange.name == "sim"
    assert loaded.config.database_url.startswith("sqlite:///")
    assert "{data_dir}" not in loaded.config.database_url


def test_a_partial_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"ui": {"refresh_hz": 2}})
    config = load_config(path).config
    assert config.ui.refresh_hz == 2
    assert config.ui.theme == "balance-dark"
    assert config.exchange.name == "sim"


def test_lookup_order_flag_then_env_then_cwd_then_user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "balance-tui"
    user_dir.mkdir(parents=True)
    user = write_config(user_dir / "config.toml", {"ui": {"refresh_hz": 3}})
    assert load_config(env={}).path == user
    cwd = write_config(Path.cwd() / "config.toml", {"ui": {"refresh_hz": 5}})
    assert load_config(env={}).path == Path("config.toml") and cwd.exists()
    named = write_config(tmp_path / "env.toml", {"ui": {"refresh_hz": 6}})
    assert load_config(env={"BALANCE_TUI_CONFIG": str(named)}).config.ui.refresh_hz == 6
    flagged = write_config(tmp_path / "flag.toml", {"ui": {"refresh_hz": 7}})
    assert load_config(flagged, env={"BALANCE_TUI_CONFIG": str(named)}).config.ui.refresh_hz == 7


def test_an_unknown_key_names_the_file_the_key_and_what_is_allowed(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"exchange": {"nmae": "sim"}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "[exchange] nmae: unknown key" in message
    assert "name, rest_url, ws_private_url, ws_public_url, credentials_file" in message


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"exchnage": {"name": "sim"}})
    with pytest.raises(ConfigError, match="exchnage: unknown key; allowed here: exchange, sim, store"):
        load_config(path)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ui": {"refresh_hz": "fast"}}, r"\[ui\] refresh_hz: Input should be a valid integer \(got 'fast'\)"),
        ({"ui": {"refresh_hz": 60}}, r"\[ui\] refresh_hz: Input should be less than or equal to 10"),
        ({"exchange": {"name": "binance"}}, r"\[exchange\] name: Input should be 'sim' or 'kraken'"),
        ({"sim": {"seed": "7"}}, r"\[sim\] seed: Input should be a valid integer"),
        ({"ui": "dark"}, r"ui: Input should be a valid dictionary"),
        ({"guard": {"safety_buffer": 2.5}}, r"\[guard\] safety_buffer: Value error, write amounts as strings"),
        ({"guard": {"minimums": {"USD": "five"}}}, r"\[guard.minimums\] USD: Value error, not a decimal amount"),
        ({"validation": {"disabled": ["no_such_rule"]}}, r"\[validation.disabled\] 0: Input should be"),
        ({"rest": {"tier": "gold"}}, r"\[rest\] tier: Input should be 'starter', 'intermediate' or 'pro'"),
    ],
)
def test_a_wrong_type_or_value_is_refused_clearly(tmp_path: Path, data: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write_config(tmp_path / "c.toml", data))


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[ui]\nrefresh_hz = = 4\n")
    with pytest.raises(ConfigError, match=r"c.toml: not valid TOML: .*line 2"):
        load_config(path)


def test_a_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "absent.toml")


def kraken_config(tmp_path: Path, credentials: Path) -> Path:
    return write_config(tmp_path / "c.toml", {"exchange": {"name": "kraken", "credentials_file": str(credentials)}})


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_credentials_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    creds = tmp_path / "credentials.toml"
    creds.write_text(f'api_key = "k"\napi_secret = "{SECRET}"\n')
    creds.chmod(mode)
    config = load_config(kraken_config(tmp_path, creds)).config
    with pytest.raises(ConfigError, match=rf"permissions {mode:04o} are too open.*chmod 600"):
        load_credentials(config, env={})


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_credentials_file_is_read(tmp_path: Path, mode: int) -> None:
    creds = tmp_path / "credentials.toml"
    creds.write_text(f'api_key = "my-key"\napi_secret = "{SECRET}"\n')
    creds.chmod(mode)
    credentials = load_credentials(load_config(kraken_config(tmp_path, creds)).config, env={})
    assert credentials.api_key.get_secret_value() == "my-key"
    assert SECRET not in repr(credentials) and SECRET not in str(credentials)


def test_environment_credentials_win_and_must_come_in_pairs(tmp_path: Path) -> None:
    config = load_config(kraken_config(tmp_path, tmp_path / "none.toml")).config
    assert (
        load_credentials(config, env={"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": SECRET}).api_key.get_secret_value()
        == "k"
    )
    with pytest.raises(ConfigError, match="KRAKEN_API_SECRET is not set"):
        load_credentials(config, env={"KRAKEN_API_KEY": "k"})
    with pytest.raises(ConfigError, match="no credentials: set KRAKEN_API_KEY"):
        load_credentials(config, env={})
    with pytest.raises(ConfigError, match="not valid base64") as caught:
        load_credentials(config, env={"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": "not base64!"})
    assert "not base64!" not in str(caught.value)


def test_nothing_starts_on_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "c.toml", {"ui": {"refresh_hz": "fast"}})
    assert main(["--config", str(path), "status", "--once"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "refresh_hz" in err and str(path) in err
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "balance-tui").exists()  # no store was created


def test_nothing_starts_with_an_open_credentials_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    creds = tmp_path / "credentials.toml"
    creds.write_text(f'api_key = "k"\napi_secret = "{SECRET}"\n')
    creds.chmod(0o644)
    assert main(["--config", str(kraken_config(tmp_path, creds)), "status", "--once"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "too open" in err and SECRET not in err
