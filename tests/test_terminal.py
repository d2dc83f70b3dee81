"""The console as an operator runs it: a real process in a pseudo-terminal, keys typed, signals sent.

Exit times are checked against a bound well above the goal (quit within a second) and well below the
defect it guards against (websockets' 10 s close and open defaults), so a loaded CI machine passes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine, select

from balance_tui.store.tables import SessionStatus, TradingSession
from benchmarks.pty_console import PtyConsole
from tests.conftest import write_config

EXIT_BOUND_S = 5.0


class Terminal(PtyConsole):
    """The console in a pty, as tests type at it and wait for it."""

    def wait_exit(self, timeout: float = 30) -> float:
        """Seconds until the process exited."""
        start = time.monotonic()
        self.process.wait(timeout=timeout)
        return time.monotonic() - start


def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def sessions_in(database: Path) -> list[TradingSession]:
    if not database.exists():
        return []
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as db:
            return list(db.exec(select(TradingSession)).all())
    except Exception:  # the console is still creating the schema
        return []
    finally:
        engine.dispose()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    started: list[Terminal] = []

    def start(*args: str, **sections: dict[str, object]) -> Terminal:
        data: dict[str, object] = {
            "sim": {"updates_per_second": 5.0},
            "store": {"database_url": f"sqlite:///{tmp_path / 's.db'}"},
            **sections,
        }
        started.append(Terminal("--config", str(write_config(tmp_path / "c.toml", data)), *args))
        return started[-1]

    yield start
    for terminal in started:
        terminal.close()


def test_a_lost_terminal_ends_the_session_interrupted_with_its_time(console, tmp_path: Path) -> None:
    terminal = console()
    until(lambda: [s.status for s in sessions_in(tmp_path / "s.db")] == [SessionStatus.ACTIVE], "the session")
    until(lambda: b"LIVE" in terminal.output, "the live feed on screen")
    hung_up_at = time.time()
    terminal.process.send_signal(signal.SIGHUP)
    assert terminal.wait_exit() < EXIT_BOUND_S
    (session,) = sessions_in(tmp_path / "s.db")
    assert session.status == SessionStatus.INTERRUPTED
    assert session.ended_at is not None and abs(session.ended_at.timestamp() - hung_up_at) < EXIT_BOUND_S


class MuteWebSocketServer:
    """A peer behind a dead link: it accepts TCP and, with `handshake`, completes the WebSocket opening
    handshake (RFC 6455), then never sends or answers anything, not even a close."""

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, *, handshake: bool) -> None:
        self.handshake = handshake
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/v2"
        self.reached = threading.Event()  # a client got as far as this server lets it
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self._open.append(conn)
            if self.handshake and not self._answer(conn):
                continue
            self.reached.set()

    def _answer(self, conn: socket.socket) -> bool:
        request = b""
        while b"\r\n\r\n" not in request:
            if not (chunk := conn.recv(4096)):
                return False
            request += chunk
        key = re.search(rb"sec-websocket-key: *(\S+)", request, re.IGNORECASE).group(1)
        accept = base64.b64encode(hashlib.sha1(key + self.GUID).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        return True

    def close(self) -> None:
        for conn in [self.listener, *self._open]:
            conn.close()


@pytest.fixture
def simulator() -> Iterator[dict[str, str]]:
    """`balance-tui sim` in its own process: its URLs and demo credentials, read off its banner."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "balance_tui", "sim", "--port", "0", "--updates-per-second", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = "".join(sim.stdout.readline() for _ in range(7))
        yield {
            "rest_url": re.search(r"REST base: +(\S+)", banner).group(1),
            "ws_private_url": re.search(r"WebSocket v2: +(\S+)", banner).group(1),
            "key": re.search(r"KRAKEN_API_KEY='([^']+)'", banner).group(1),
            "secret": re.search(r"KRAKEN_API_SECRET='([^']+)'", banner).group(1),
        }
    finally:
        sim.terminate()
        sim.wait()


@pytest.fixture
def hung_price_feed(
    request: pytest.FixtureRequest, simulator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[MuteWebSocketServer, dict[str, object]]]:
    """The exchange section of a console whose public endpoint hangs in the opening handshake, or answers it
    and then nothing, not even the close: websockets would wait 10 s for either by default."""
    monkeypatch.setenv("KRAKEN_API_KEY", simulator["key"])
    monkeypatch.setenv("KRAKEN_API_SECRET", simulator["secret"])
    public = MuteWebSocketServer(handshake=request.param)
    exchange = {"name": "kraken", "rest_url": simulator["rest_url"], "ws_private_url": simulator["ws_private_url"]}
    yield public, {**exchange, "ws_public_url": public.url}
    public.close()


HANGS = pytest.mark.parametrize("hung_price_feed", [False, True], ids=["never-answers", "mute"], indirect=True)


@HANGS
def test_q_exits_at_once_while_the_price_feed_hangs(console, hung_price_feed, tmp_path: Path) -> None:
    public, exchange = hung_price_feed
    terminal = console(exchange=exchange)
    assert public.reached.wait(30), "the console never reached the public endpoint"
    terminal.press("q")
    assert terminal.wait_exit() < EXIT_BOUND_S
    assert terminal.process.returncode == 0
    (session,) = sessions_in(tmp_path / "s.db")
    assert session.status == SessionStatus.CLOSED


@HANGS
def test_ctrl_c_ends_watch_at_once_while_the_price_feed_hangs(console, hung_price_feed) -> None:
    public, exchange = hung_price_feed
    terminal = console("watch", "--jsonl", exchange=exchange)
    assert public.reached.wait(30), "watch never reached the public endpoint"
    until(lambda: b'"asset"' in terminal.output, "the first JSON line")
    terminal.process.send_signal(signal.SIGINT)
    assert terminal.wait_exit() < EXIT_BOUND_S
    assert terminal.process.returncode == 0
    assert b"Traceback" not in terminal.output
