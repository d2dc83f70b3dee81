"""`status --once` and `watch --jsonl` as a script would run them: a real process on the real simulator."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from balance_tui.cli import EXIT_CONFIG, EXIT_REFUSED
from balance_tui.sim import Simulator
from tests.conftest import write_config


def run(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balance_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def sim_config(tmp_path: Path, **sim: object) -> Path:
    return write_config(
        tmp_path / "c.toml",
        {"sim": {"updates_per_second": 0.0, **sim}, "store": {"database_url": f"sqlite:///{tmp_path / 's.db'}"}},
    )


FEED_FIELDS = {
    "state", "system", "sequence", "messages", "rate_1s", "rate_1m", "ping_rtt_ms", "reconnects", "reconnect_reason",
    "budget_left", "budget_capacity", "gaps", "token_age_s", "channels", "last_message_at", "holds_source", "error",
}  # fmt: skip


def test_status_once_json_lists_the_simulators_assets(tmp_path: Path) -> None:
    result = run("--config", str(sim_config(tmp_path, seed=5)), "status", "--once", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["healthy"] is True and report["feed"]["state"] == "live"
    expected = Simulator(seed=5).account.totals()
    assert {b["asset"]: Decimal(b["total"]) for b in report["balances"]} == expected
    assert all(isinstance(b["total"], str) for b in report["balances"])  # exact decimal strings, never floats
    feed = report["feed"]
    assert set(feed) == FEED_FIELDS
    assert "balances" in feed["channels"] and feed["token_age_s"] >= 0 and feed["reconnect_reason"] is None
    assert 0 <= feed["budget_left"] <= feed["budget_capacity"] and feed["messages"] >= 1


def test_status_once_prints_a_table(tmp_path: Path) -> None:
    result = run("--config", str(sim_config(tmp_path)), "status", "--once")
    assert result.returncode == 0, result.stderr
    assert "feed live" in result.stdout and "BTC" in result.stdout
    health = result.stdout.splitlines()[1]  # the feed panel's figures, on the line under the feed's state
    assert health.startswith("ping ") and " over 1 min  reconnects 0  budget " in health
    assert " left  token " in health and " s old  channels balances" in health


def test_status_once_exits_2_with_the_reason_when_nothing_answers(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml",
        {
            "exchange": {"name": "kraken", "rest_url": "http://127.0.0.1:9", "ws_private_url": "ws://127.0.0.1:9/v2"},
            "store": {"database_url": f"sqlite:///{tmp_path / 's.db'}"},
        },
    )
    secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    result = run(
        "--config",
        str(config),
        "status",
        "--once",
        "--timeout",
        "1.5",
        env={"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": secret},
    )
    assert result.returncode == 2
    assert "no balances snapshot within 1.5 s" in result.stderr
    assert "cannot connect to ws://127.0.0.1:9/v2" in result.stderr
    assert secret not in result.stderr + result.stdout


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 128 + signal.SIGINT), (signal.SIGTERM, 0)])
def test_watch_prints_a_json_line_per_change_until_a_signal(tmp_path: Path, stop: signal.Signals, code: int) -> None:
    """Ctrl+C exits 130 as the shell's convention has it, SIGTERM (a service stopped) 0: as `record` does."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "balance_tui",
            "--config",
            str(sim_config(tmp_path, updates_per_second=20.0)),
            "watch",
            "--jsonl",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [json.loads(process.stdout.readline()) for _ in range(40)]  # the snapshots, then updates
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=20)
    assert (process.returncode, err) == (code, "")
    assert set(lines[0]) == {"asset", "total", "held", "free", "source", "time", "feed"}
    assert all(set(line["feed"]) == FEED_FIELDS and "balances" in line["feed"]["channels"] for line in lines)
    assert any(line["feed"]["ping_rtt_ms"] is not None for line in lines)  # the pong to the first frame's ping
    assert [line["feed"]["messages"] for line in lines] == sorted(line["feed"]["messages"] for line in lines)
    assert all(isinstance(line["total"], str) and Decimal(line["total"]) >= 0 for line in lines)
    assert {line["source"] for line in lines} == {"ws"}


@pytest.mark.parametrize("command", ["watch", "record"])
def test_the_long_running_commands_say_how_they_stop_and_exit(command: str) -> None:
    result = run(command, "--help", timeout=30)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # as argparse wraps it
    assert "SIGTERM stops it and exits 0" in text and "Ctrl+C stops it the same way and exits 130" in text


def test_sim_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("sim", "--port", str(busy.getsockname()[1]), timeout=30)
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sim_port_out_of_range_is_refused_in_one_line() -> None:
    result = run("sim", "--port", "70000", timeout=30)
    assert result.returncode == 78
    assert result.stderr.strip() == "balance-tui: sim --port 70000: a port is 0-65535 (0 picks a free one)"


def unopenable_store(request: pytest.FixtureRequest, tmp_path: Path, case: str) -> tuple[str, str]:
    """A database URL that cannot be opened, and what the one line says about it."""
    if case == "random bytes":
        (tmp_path / "s.db").write_bytes(random.Random(14).randbytes(8192))
        return f"sqlite:///{tmp_path / 's.db'}", f"cannot open the store {tmp_path / 's.db'}: file is not a database"
    if case == "a directory":
        (tmp_path / "s.db").mkdir()
        return (
            f"sqlite:///{tmp_path / 's.db'}",
            f"cannot open the store {tmp_path / 's.db'}: it is a directory, not a database file",
        )
    if case == "postgresql that drops packets":  # given up on after PG_CONNECT_TIMEOUT_S, not psycopg's 130 s
        port = request.getfixturevalue("silent_port")
        return f"postgresql+psycopg://u:hunter2@127.0.0.1:{port}/test", (
            f"cannot open the store postgresql+psycopg://u:***@127.0.0.1:{port}/test: connection timeout expired"
        )
    return "postgresql+psycopg://u:hunter2@127.0.0.1:1/test", (
        "cannot open the store postgresql+psycopg://u:***@127.0.0.1:1/test: connection failed: connection to server at "
        '"127.0.0.1", port 1 failed: Connection refused'
    )


@pytest.mark.parametrize(
    "case", ["random bytes", "a directory", "postgresql on port 1", "postgresql that drops packets"]
)
@pytest.mark.parametrize("command", [("status", "--once", "--timeout", "5"), ("db", "verify")])
def test_a_store_that_cannot_be_opened_is_one_line_and_exit_1(
    request: pytest.FixtureRequest, tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    url, reason = unopenable_store(request, tmp_path, case)
    config = write_config(tmp_path / "c.toml", {"sim": {"updates_per_second": 0.0}, "store": {"database_url": url}})
    before = {path: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    result = run("--config", str(config), *command, timeout=60)
    assert result.returncode == EXIT_REFUSED
    assert result.stderr == f"balance-tui: {reason} (from [store] database_url in {config})\n"
    assert "hunter2" not in result.stderr and result.stdout == ""
    assert {path: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == before  # nothing written


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ("history", "BTC", "--hours", "1e300"),
            "history --hours 1e300: expected a number of hours above 0 and at most 87600 (10 years)",
        ),
        (("export", "--format", "csv", "--hours", "inf"), "export --hours inf: expected a number of hours above 0"),
        (("history", "BTC", "--points", "0"), "history --points 0: expected 1 to 500 points"),
        (
            ("status", "--once", "--timeout", "nan"),
            "status --timeout nan: expected a number of seconds above 0 and at most 315360000 (10 years)",
        ),
        (("status", "--once", "--timeout", "-1"), "status --timeout -1: expected a number of seconds above 0"),
        (("status", "--once", "--timeout", "0"), "status --timeout 0: expected a number of seconds above 0"),
        # sim: the same rule as [sim] updates_per_second; whole numbers as TOML writes them
        (
            ("sim", "--port", "0", "--updates-per-second", "nan"),
            "sim --updates-per-second nan: expected a number of updates a second from 0 (no activity) to 1000",
        ),
        (("sim", "--port", "0", "--updates-per-second", "inf"), "sim --updates-per-second inf: expected a number"),
        (("sim", "--port", "0", "--updates-per-second", "-1"), "sim --updates-per-second -1: expected a number"),
        (("sim", "--port", "0", "--updates-per-second", "1001"), "sim --updates-per-second 1001: expected a number"),
        (
            ("sim", "--port", "0", "--nonce-window", "-1"),
            "sim --nonce-window -1: expected a whole number of nonce ticks, 0 or more",
        ),
        (("sim", "--port", "0", "--nonce-window", "5k"), "sim --nonce-window 5k: expected a whole number of nonce"),
        (("sim", "--port", "0", "--seed", "\u0661\u0662"), "sim --seed \u0661\u0662: expected a whole number, e.g. 7"),
        (("sim", "--port", "0", "--seed", "1_000"), "sim --seed 1_000: expected a whole number, e.g. 7"),
        (("sim", "--port", "0", "--seed", "x"), "sim --seed x: expected a whole number, e.g. 7"),
        (("sim", "--port", "http"), "sim --port http: a port is 0-65535 (0 picks a free one)"),
        # argparse's own refusals, the same way (QA: `export --format xml` exited 2, with the usage text)
        (
            ("export", "--format", "xml"),
            "export: argument --format: invalid choice: 'xml' (choose from 'csv', 'json'); "
            "see balance-tui export --help",
        ),
        (("status",), "status: the following arguments are required: --once; see balance-tui status --help"),
        (("history", "BTC", "--frobnicate"), "unrecognized arguments: --frobnicate; see balance-tui --help"),
    ],
)
def test_a_bad_command_line_value_is_one_line_and_exit_78(tmp_path: Path, argv: tuple[str, ...], line: str) -> None:
    result = run("--config", str(sim_config(tmp_path)), *argv, timeout=60)
    assert result.returncode == EXIT_CONFIG
    assert result.stderr.startswith(f"balance-tui: {line}") and len(result.stderr.splitlines()) == 1
    assert result.stdout == "" and not (tmp_path / "s.db").exists()  # nothing started, no store made
