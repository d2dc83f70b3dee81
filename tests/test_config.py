import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from balance_tui.cli import EXIT_CONFIG, BadArgument, _parser, main
from balance_tui.config import (
    MAX_DURATION_HOURS,
    MAX_DURATION_S,
    ConfigError,
    load_config,
    load_credentials,
    updates_per_second_problem,
)
from balance_tui.store.money import AmountError, parse_amount
from tests.conftest import write_config
from tests.store.test_money import REJECTED

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
    assert config.ui.dust_below == 0  # every balance shown
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
        ({"guard": {"safety_buffer": 2.5}}, r"\[guard\] safety_buffer: write amounts as strings"),
        ({"ui": {"dust_below": 0.5}}, r"\[ui\] dust_below: write amounts as strings"),
        ({"ui": {"dust_below": "-1"}}, r"\[ui\] dust_below: Input should be greater than or equal to 0"),
        ({"ui": {"dust_below": "1e3"}}, r"\[ui\] dust_below: '1e3' is not an amount"),
        ({"guard": {"minimums": {"USD": "five"}}}, r"\[guard.minimums\] USD: 'five' is not an amount"),
        (
            {"guard": {"minimums": {"BTC": "-0.0001"}}},
            r"\[guard.minimums\] BTC: Input should be greater than or equal to 0 \(got '-0.0001'\)",
        ),
        ({"validation": {"ceilings": {"BTC": "0"}}}, r"\[validation.ceilings\] BTC: Input should be greater than 0"),
        ({"validation": {"low_balance": {"USD": "-5"}}}, r"\[validation.low_balance\] USD: Input should be greater"),
        ({"validation": {"disabled": ["no_such_rule"]}}, r"\[validation.disabled\] 0: Input should be"),
        ({"rest": {"tier": "gold"}}, r"\[rest\] tier: Input should be 'starter', 'intermediate' or 'pro'"),
    ],
)
def test_a_wrong_type_or_value_is_refused_clearly(tmp_path: Path, data: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write_config(tmp_path / "c.toml", data))


def test_dust_is_an_exact_amount(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "c.toml", {"ui": {"dust_below": "0.10"}})).config
    assert str(config.ui.dust_below) == "0.10"


def test_each_problem_is_one_line_naming_the_file_and_key_and_saying_it_once(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.toml",
        {"ui": {"refresh_hz": "fast"}, "guard": {"safety_buffer": 2.5, "minimums": {"USD": "five"}}},
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).splitlines() == [
        f'{path}: [guard] safety_buffer: write amounts as strings, e.g. "2.50", so they stay exact (got 2.5)',
        f"{path}: [guard.minimums] USD: 'five' is not an amount: expected digits with an optional sign and '.', "
        "like 12.34 or -0.5 (at most 20 digits before the point and 18 after; no spaces, exponents, separators, "
        "NaN or Infinity)",
        f"{path}: [ui] refresh_hz: Input should be a valid integer (got 'fast')",
    ]


DURATIONS = [
    ("feed", "stale_after_s"),
    ("feed", "snapshot_timeout_s"),
    ("engine", "fallback_poll_s"),
    ("store", "session_lease_s"),
    ("store", "history_retention_hours"),
    ("store", "resume_window_hours"),
    ("cache", "ttl_s"),
    ("history", "retention_hours"),
    ("guard", "max_data_age_s"),
    ("validation", "stale_after_s"),
    ("validation", "inconsistency_fresh_s"),
]


@pytest.mark.parametrize(("section", "key"), DURATIONS)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e300])
def test_a_duration_must_be_finite_and_at_most_ten_years(tmp_path: Path, section: str, key: str, value: float) -> None:
    path = write_config(tmp_path / "c.toml", {section: {key: value}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: [{section}] {key}: ") and "\n" not in message
    assert ("finite number" if not math.isfinite(value) else "a duration is at most") in message


@pytest.mark.parametrize(("section", "key"), DURATIONS)
def test_ten_years_is_the_longest_duration(tmp_path: Path, section: str, key: str) -> None:
    limit = MAX_DURATION_HOURS if key.endswith("_hours") else MAX_DURATION_S
    config = load_config(write_config(tmp_path / "c.toml", {section: {key: float(limit)}})).config
    assert getattr(getattr(config, section), key) == limit
    with pytest.raises(ConfigError, match="a duration is at most"):
        load_config(write_config(tmp_path / "c.toml", {section: {key: limit * 1.001}}))


@pytest.mark.parametrize("text", [*REJECTED, "1e400", "12", "-0.5", "0.000000000000000001", "1" * 20])
def test_config_amounts_follow_the_command_lines_amount_rule(tmp_path: Path, text: str) -> None:
    path = write_config(tmp_path / "c.toml", {"guard": {"minimums": {"USD": text}}})
    try:
        expected = parse_amount(text)
    except AmountError as exc:
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value) == f"{path}: [guard.minimums] USD: {exc}"
        return
    if expected < 0:  # an amount, but not a minimum
        with pytest.raises(ConfigError, match=r"\[guard.minimums\] USD: Input should be greater than or equal to 0"):
            load_config(path)
    else:
        assert load_config(path).config.guard.minimums["USD"] == expected


def test_a_minimum_of_zero_is_allowed(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"guard": {"minimums": {"BTC": "0", "USD": "5"}}})
    minimums = load_config(path).config.guard.minimums
    assert (minimums["BTC"], minimums["USD"]) == (0, 5)


RATES = [math.nan, math.inf, -math.inf, -1.0, -0.001, 1000.001, 1e9, 0.0, 0.5, 1000.0]


@pytest.mark.parametrize("rate", RATES)
def test_the_config_and_the_command_line_take_the_same_updates_per_second(tmp_path: Path, rate: float) -> None:
    problem = updates_per_second_problem(rate)
    path = write_config(tmp_path / "c.toml", {"sim": {"updates_per_second": rate}})
    command_line = ["sim", f"--updates-per-second={rate!r}"]  # = form: argparse takes "-inf" for an option
    if problem is None:
        assert load_config(path).config.sim.updates_per_second == rate
        assert _parser().parse_args(command_line).updates_per_second == rate
    else:
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value) == f"{path}: [sim] updates_per_second: {problem} (got {rate:g})"
        with pytest.raises(BadArgument) as refused:
            _parser().parse_args(command_line)
        assert str(refused.value) == f"sim --updates-per-second {rate!r}: {problem}"
    assert (problem is None) == (0 <= rate <= 1000)  # finite, 0 (no activity) to 1000


def test_an_unknown_theme_or_binding_id_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"ui": {"theme": "nope"}, "keymap": {"app.qiut": "x"}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    theme, keymap = str(caught.value).splitlines()
    assert theme.startswith(f"{path}: [ui] theme: no theme named 'nope'; available: ")
    assert "balance-light" in theme and "textual-dark" in theme
    assert keymap.startswith(f"{path}: [keymap] app.qiut: no binding has this id; ids: ")
    assert {"adjust.save", "app.quit", "pane.zoom"} <= set(keymap.partition("ids: ")[2].split(", "))


def test_every_binding_id_and_a_textual_theme_are_accepted(tmp_path: Path) -> None:
    keymap = {"app.quit": "ctrl+q", "adjust.save": "ctrl+w", "books.back": "escape"}
    path = write_config(tmp_path / "c.toml", {"ui": {"theme": "nord"}, "keymap": keymap})
    config = load_config(path).config
    assert (config.ui.theme, config.keymap) == ("nord", keymap)


@pytest.mark.parametrize(
    ("keymap", "line"),
    [
        ({"app.books": ""}, "[keymap] app.books: an empty key; give a key such as 'ctrl+b'"),
        ({"app.books": "b,"}, "[keymap] app.books: an empty key in 'b,'; give a key such as 'ctrl+b'"),
        (
            {"app.books": "notakey+zz"},
            "[keymap] app.books: 'notakey+zz' is not a key Textual knows: 'notakey' is not a modifier "
            "(alt, ctrl, hyper, meta, shift, super)",
        ),
        (
            {"app.books": "ctrl+zz"},
            "[keymap] app.books: 'ctrl+zz' is not a key Textual knows: 'zz' is neither a character nor a key name "
            "such as 'escape', 'f5' or 'slash'",
        ),
        ({"balances.filter": "/"}, "[keymap] balances.filter: Textual names the key '/' 'slash': write 'slash'"),
        (
            {"app.books": "q"},
            "keymap: app.books and app.quit would both be 'q' where both work; give each its own key",
        ),
        (
            {"books.undo": "escape"},
            "keymap: books.back and books.undo would both be 'escape' where both work; give each its own key",
        ),
        (  # a widget's binding works with its screen's: the balances pane on the main screen
            {"balances.sort": "z"},
            "keymap: balances.sort and pane.zoom would both be 'z' where both work; give each its own key",
        ),
    ],
)
def test_a_keymap_key_textual_would_not_take_or_a_clash_names_the_entry(
    tmp_path: Path, keymap: dict[str, str], line: str
) -> None:
    # QA: "q" stole quit, "notakey+zz" showed in the footer, "" was silently ignored.
    path = write_config(tmp_path / "c.toml", {"keymap": keymap})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {line}"


def test_keys_textual_names_and_keys_that_take_turns_are_accepted(tmp_path: Path) -> None:
    keymap = {
        "app.books": "ctrl+shift+f5",
        "app.quit": "q,Q",
        "balances.filter": "slash",
        "books.undo": "U",  # "u" left free on the books screen; ...
        "sessions.back": "escape,u",  # ... "u" there is the sessions screen's, which is never active with it
        "app.pause": "space",  # the replay's play key as well: replay.play moves away
        "replay.play": "enter,ctrl+at",
        "app.asset": "é",
        "note.confirm": "u",  # the note form is a screen of its own: the books' `u` is not at work under it
    }
    path = write_config(tmp_path / "c.toml", {"keymap": keymap})
    assert load_config(path).config.keymap == keymap


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysqlx://u:hunter2@h/db", "mysqlx:// is not a database this console speaks"),
        ("postgresql+asyncpg://u:hunter2@h/db", "postgresql+asyncpg:// is not a database this console speaks"),
        ("not a url hunter2", "not a database URL"),
    ],
)
def test_a_database_url_the_store_cannot_use_is_a_config_error(tmp_path: Path, url: str, problem: str) -> None:
    path = write_config(tmp_path / "c.toml", {"store": {"database_url": url}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: [store] database_url: {problem}; expected sqlite:///PATH or postgresql")
    assert "hunter2" not in message and "\n" not in message  # a URL may hold a password: never echoed
    with pytest.raises(ConfigError) as caught:
        load_config(env={"DATABASE_URL": url})
    assert str(caught.value).startswith(f"$DATABASE_URL (it wins over [store] database_url): {problem}; expected")


@pytest.mark.parametrize("url", ["sqlite:///x.db", "sqlite+pysqlite:///x.db", "postgres://u@h/db", "postgresql://h/db"])
def test_the_database_urls_the_store_speaks_are_accepted(tmp_path: Path, url: str) -> None:
    path = write_config(tmp_path / "c.toml", {"store": {"database_url": url}})
    assert load_config(path, env={"DATABASE_URL": url}).config.database_url == url


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


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "balance_tui", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"feed": {"stale_after_s": math.inf}}, "[feed] stale_after_s: Input should be a finite number (got inf)"),
        (
            {"engine": {"fallback_poll_s": 1e300}},
            "[engine] fallback_poll_s: a duration is at most 315360000 s (10 years) (got 1e+300)",
        ),
        ({"guard": {"safety_buffer": "\u0661\u0662"}}, "[guard] safety_buffer: '\u0661\u0662' is not an amount: "),
        ({"ui": {"theme": "nope"}}, "[ui] theme: no theme named 'nope'; available: "),
        ({"keymap": {"app.qiut": "x"}}, "[keymap] app.qiut: no binding has this id; ids: "),
        ({"store": {"database_url": "mysqlx://h/db"}}, "[store] database_url: mysqlx:// is not a database "),
        ({"guard": {"minimums": {"BTC": "-1"}}}, "[guard.minimums] BTC: Input should be greater than or equal to 0"),
        ({"sim": {"updates_per_second": math.nan}}, "[sim] updates_per_second: expected a number of updates a second"),
    ],
)
def test_status_once_refuses_a_bad_config_in_one_line(tmp_path: Path, data: dict, line: str) -> None:
    path = write_config(tmp_path / "c.toml", data)
    result = run_cli("--config", str(path), "status", "--once", "--timeout", "5")
    assert result.returncode == EXIT_CONFIG
    assert result.stderr.startswith(f"balance-tui: {path}: {line}")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "balance-tui").exists()  # no store was created
