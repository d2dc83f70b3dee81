"""`status --once` and `watch --jsonl` as a script would run them: a real process on the real simulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

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


def test_status_once_json_lists_the_simulators_assets(tmp_path: Path) -> None:
    result = run("--config", str(sim_config(tmp_path, seed=5)), "status", "--once", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["healthy"] is True and report["feed"]["state"] == "live"
    expected = Simulator(seed=5).account.totals()
    assert {b["asset"]: Decimal(b["total"]) for b in report["balances"]} == expected
    assert all(isinstance(b["total"], str) for b in report["balances"])  # exact decimal strings, never floats


def test_status_once_prints_a_table(tmp_path: Path) -> None:
    result = run("--config", str(sim_config(tmp_path)), "status", "--once")
    assert result.returncode == 0, result.stderr
    assert "feed live" in result.stdout and "BTC" in result.stdout


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


def test_watch_prints_a_json_line_per_change(tmp_path: Path) -> None:
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
        lines = [json.loads(process.stdout.readline()) for _ in range(20)]
    finally:
        process.send_signal(2)  # SIGINT, as Ctrl+C
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert set(lines[0]) == {"asset", "total", "held", "free", "source", "time"}
    assert all(isinstance(line["total"], str) and Decimal(line["total"]) >= 0 for line in lines)
    assert {line["source"] for line in lines} == {"ws"}


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
