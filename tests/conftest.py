"""Fixtures every test shares: no config, colour or theme leaks in from the developer's machine; the
PostgreSQL server the store tests also run on, and a summary line saying when they did not."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from balance_tui.config import Config, load_config

PG_URL_ENV = "BALANCE_TUI_TEST_PG_URL"
PG_SKIPPED = (
    f"{PG_URL_ENV} is not set: PostgreSQL store, crash and concurrency tests skip; "
    f"set it (e.g. {PG_URL_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test) to run them"
)
PG_CONNECT_TIMEOUT_S = 5


class FrozenClock:
    """A clock that moves only when a test says so; `advance` moves wall and monotonic time together."""

    def __init__(self, at: datetime = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) -> None:
        self.at = at
        self.ticks = 1000.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.ticks

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.ticks += seconds


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    for name in (
        "BALANCE_TUI_CONFIG",
        "DATABASE_URL",
        "KRAKEN_API_KEY",
        "KRAKEN_API_SECRET",
        "NO_COLOR",
        "TEXTUAL_THEME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(home)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose server never answers a new connection, as behind a firewall that drops packets:
    it listens with a backlog of 0, already filled by one connection it never accepts, so Linux drops every
    further SYN and a client's connect waits until its own timeout. Checked here, so a kernel that refuses
    instead fails this fixture, not the test using it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5), socket.socket() as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                pass
            else:
                pytest.fail("a connection to a full backlog completed: no silent port on this machine")
            yield port


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Iterator[Any]:
    """A config over the shipped defaults: a still simulator and a store in this test's directory."""

    def make(**sections: dict[str, Any]) -> Config:
        data: dict[str, Any] = {
            "sim": {"updates_per_second": 0.0},
            "store": {"database_url": f"sqlite:///{tmp_path / 'store.db'}"},
        }
        for name, values in sections.items():
            data[name] = {**data.get(name, {}), **values}
        return load_config(write_config(tmp_path / "config.toml", data)).config

    yield make


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The PostgreSQL server named by BALANCE_TUI_TEST_PG_URL, checked once per run. Unset, the tests that
    need it skip, saying so; set to a server that does not answer, they are errors (CI set it on purpose)."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(PG_SKIPPED)
    shown = make_url(url).render_as_string(hide_password=True)
    probe = create_engine(url, connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S})
    try:
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        failure = f"{PG_URL_ENV}={shown} is set but the server does not answer: {error.orig or error}"
    else:
        return url
    finally:
        probe.dispose()
    pytest.fail(failure, pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line nobody misses when the PostgreSQL half of the store tests did not run."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and PG_SKIPPED in report.longrepr[2]
    ]
    if skipped:
        tests = "test" if len(skipped) == 1 else "tests"
        terminalreporter.write_line(f"PostgreSQL: {len(skipped)} {tests} skipped: {PG_SKIPPED}", yellow=True, bold=True)
