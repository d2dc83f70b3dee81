"""`balance-tui serve`: refusals, the loopback guards, and the console in a real headless Chromium.

The browser test needs Debian's Chromium (`apt-get install chromium`, giving /usr/bin/chromium) and skips,
saying so, without it. It drives Chromium over the DevTools protocol with `websockets` (no browser test
library). textual-serve draws with xterm.js on a canvas, so the page's DOM holds no text; a script added
before the page loads keeps a reference to the page's xterm.js terminal, and the test reads what it shows
from the terminal's screen buffer, then saves a screenshot of the page.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from balance_tui.serve import console_command, loopback_problem
from balance_tui.tui.app import TTY_CHECK_S
from tests.conftest import write_config
from tests.test_terminal import sessions_in

CHROMIUM = Path("/usr/bin/chromium")
EXIT_BOUND_S = 15.0  # a stop waits for each console to quit (STOP_CONSOLES_S = 10 s at most)


class Served:
    """`balance-tui serve` in its own process; its URL read off its banner."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "balance_tui", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.banner: list[str] = []
        self.errors: list[str] = []
        threading.Thread(target=self._read_errors, daemon=True).start()
        for line in self.process.stdout:
            self.banner.append(line)
            if line.startswith("Ctrl+C"):
                break
        found = re.search(r"served on (http://\S+):", "".join(self.banner))
        assert found, f"no URL in the banner: {self.banner!r} {self.errors!r}"
        self.url = found.group(1)
        threading.Thread(target=self._drain, daemon=True).start()

    def _read_errors(self) -> None:
        self.errors.extend(self.process.stderr)

    def _drain(self) -> None:
        for _ in self.process.stdout:
            pass

    def consoles(self) -> list[int]:
        """Pids of the console processes this server started (its children)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def interrupt(self) -> float:
        """Ctrl+C; seconds until the server exited."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=EXIT_BOUND_S * 2)
        return time.monotonic() - start

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str) -> Served:
        config = {
            "sim": {"updates_per_second": 5.0},
            "store": {"database_url": f"sqlite:///{tmp_path / 's.db'}"},
        }
        path = write_config(tmp_path / "c.toml", config)
        started.append(Served("serve", "--config", str(path), "--port", "0", *args))
        return started[-1]

    yield start
    for server in started:
        server.close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balance_tui", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_host_beyond_loopback_is_refused_without_public_in_one_line() -> None:
    result = run("serve", "--host", "0.0.0.0")
    assert result.returncode == 78
    assert result.stderr.count("\n") == 1
    assert "serve --host 0.0.0.0: it listens on every interface" in result.stderr
    assert "--public" in result.stderr and "ssh -L 8000:127.0.0.1:8000" in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "65536"], "serve --port 65536: a port is 0-65535"),
        (["--port", "http"], "serve --port http: a port is 0-65535"),
        (["--host", "no-such-host.invalid"], "serve --host no-such-host.invalid: cannot resolve it"),
        (["--host", ""], "serve --host : an empty host would listen on every interface"),
    ],
)
def test_a_bad_port_or_host_is_one_line_and_exit_78(args: list[str], said: str) -> None:
    result = run("serve", *args)
    assert (result.returncode, result.stderr.count("\n")) == (78, 1), result.stderr
    assert said in result.stderr


def test_a_busy_port_is_one_line_and_exit_78() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert (result.returncode, result.stderr.count("\n")) == (78, 1), result.stderr
    assert f"serve --port {port}: cannot listen on 127.0.0.1: Address already in use" in result.stderr


def test_loopback_names_and_addresses() -> None:
    assert loopback_problem("127.0.0.1") is None
    assert loopback_problem("::1") is None
    assert loopback_problem("localhost") is None
    assert loopback_problem("0.0.0.0") == "it listens on every interface"
    assert loopback_problem("192.0.2.7") == "192.0.2.7 is not a loopback address"


def test_consoles_are_read_only_unless_writing_is_allowed(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    assert console_command(config, read_only=True).endswith(f"-m balance_tui --config {config} --read-only")
    assert console_command(config, read_only=False).endswith(f"-m balance_tui --config {config}")
    assert console_command(None, read_only=True).startswith(f"exec {sys.executable} -m balance_tui")


def test_public_warns_and_ctrl_c_stops_the_server(served) -> None:
    server = served("--host", "0.0.0.0", "--public", "--allow-write")
    assert "consoles that may write (--allow-write)" in server.banner[0]
    assert server.interrupt() < EXIT_BOUND_S
    assert server.process.returncode == 0
    (warning,) = server.errors
    assert warning.startswith("balance-tui: warning: serving on http://0.0.0.0:")
    assert "no login and no TLS: anyone who can reach it can adjust balances" in warning


async def test_a_page_of_another_site_or_host_gets_no_console(served) -> None:
    """Cross-site websocket hijacking and DNS rebinding: what a loopback server must refuse."""
    server = served()
    port = server.url.rsplit(":", 1)[1]
    async with httpx.AsyncClient() as client:
        page = await client.get(server.url)
        assert page.status_code == 200
        assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page.text
        tunnelled = await client.get(server.url, headers={"Host": "localhost:9000"})  # ssh -L 9000:...:PORT
        assert 'data-session-websocket-url="ws://localhost:9000/ws"' in tunnelled.text
        rebound = await client.get(server.url, headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 403
    ws_url = server.url.replace("http", "ws") + "/ws"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(ws_url, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    assert server.consoles() == []


URL = re.compile(r"""(?:(https?|wss?):)?//([\w.-]+(?::\d+)?)[^\s"'<>)]*""")  # scheme (or none), host:port


async def test_the_page_asks_nothing_of_any_other_server(served) -> None:
    """An operator behind a tunnel or offline gets the whole page: every URL in it is this server's (the font
    too, which textual-serve's own page takes from fonts.googleapis.com), and each one answers."""
    server = served()
    async with httpx.AsyncClient() as client:
        page = await client.get(server.url)
        assert page.status_code == 200
        urls = list(URL.finditer(page.text))
        elsewhere = sorted(url[0] for url in urls if url[2] != server.url.removeprefix("http://"))
        assert not elsewhere, f"the page asks other servers: {elsewhere}"
        fetched = sorted({url[0] for url in urls if url[1] == "http"})
        assert any(url.endswith(".ttf") for url in fetched) and any(url.endswith("textual.js") for url in fetched)
        for url in fetched:
            assert (await client.get(url)).status_code == 200, url


async def open_tab(server: Served) -> Any:
    """What a tab's script does: open the console's websocket, then read until the console has drawn."""
    tab = await websockets.connect(server.url.replace("http", "ws") + "/ws?width=120&height=40", max_size=None)
    drawn = 0
    async with asyncio.timeout(30):
        while drawn < 2000:
            message = await tab.recv()
            drawn += len(message) if isinstance(message, bytes) else 0
    return tab


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = EXIT_BOUND_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_each_tab_is_its_own_console_and_goes_with_it(served) -> None:
    server = served()
    first, second = await open_tab(server), await open_tab(server)
    consoles = server.consoles()
    assert len(consoles) == 2
    await first.close()
    await wait_for(lambda: server.consoles() == consoles[1:], "the first tab's console to quit")
    await second.close()
    await wait_for(lambda: server.consoles() == [], "the second tab's console to quit")


async def test_a_killed_server_takes_its_consoles_with_it(served, tmp_path: Path) -> None:
    """No orphan console holding the trading session: it sees the server's pipe hang up, as a lost terminal."""
    server = served("--allow-write")
    tab = await open_tab(server)
    (console,) = server.consoles()
    await wait_for(lambda: [s.status for s in sessions_in(tmp_path / "s.db")] == ["active"], "its session")
    server.process.kill()
    server.process.wait()
    await wait_for(lambda: not Path(f"/proc/{console}").exists(), "the console to quit", TTY_CHECK_S + EXIT_BOUND_S)
    assert [s.status for s in sessions_in(tmp_path / "s.db")] == ["interrupted"]
    await tab.close()


# --- the browser -------------------------------------------------------------------------------------------

# Keeps the xterm.js terminal the page's script makes (`this.terminal = new Terminal(...)` in textual.js).
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.loadAddon) { window.__terminal = value; }
  },
});
"""
# The terminal's screen as text, one line per row.
SCREEN = """(() => {
  const terminal = window.__terminal;
  if (!terminal) return null;
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
})()"""


class Page:
    """One Chromium tab over the DevTools protocol: commands in, results out (events are skipped)."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            reply = json.loads(await self.socket.recv())
            if reply.get("id") == number:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]

    async def evaluate(self, expression: str) -> Any:
        return (await self.call("Runtime.evaluate", expression=expression, returnByValue=True))["result"].get("value")

    async def screen(self) -> str:
        return await self.evaluate(SCREEN) or ""

    async def until(self, condition: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while not condition(text := await self.screen()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            await asyncio.sleep(0.2)
        return text

    async def press(self, key: str, code: str, key_code: int, *, shift: bool = False) -> None:
        modifiers = 8 if shift else 0
        common = {"key": key, "code": code, "windowsVirtualKeyCode": key_code, "modifiers": modifiers}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=key, **common)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **common)


@pytest.fixture(scope="module")
def chromium() -> Iterator[int]:
    """Headless Chromium with its DevTools port; skips where Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium (apt-get install chromium) to run the browser test")
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--window-size=1280,800",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            port = None
            for line in process.stderr:
                if found := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                    port = int(found.group(1))
                    break
            assert port is not None, "Chromium did not start its DevTools server"
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


async def test_the_console_in_a_browser(served, chromium: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    server = served()
    async with httpx.AsyncClient() as client:
        targets = (await client.get(f"http://127.0.0.1:{chromium}/json/list")).json()
    (target,) = [t for t in targets if t["type"] == "page"]
    async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as devtools:
        page = Page(devtools)
        await page.call("Page.enable")
        await page.call("Page.addScriptToEvaluateOnNewDocument", source=KEEP_TERMINAL)
        await page.call("Page.navigate", url=server.url)

        # The page loads and the console in it shows the simulator's balances, read-only.
        first = await page.until(lambda text: "BTC" in text and "LIVE" in text, "the balances")
        assert "READ-ONLY" in first
        (console,) = server.consoles()  # this tab's own console process
        opened = time.monotonic()

        # They change: the simulator trades 5 times a second.
        def rows(text: str) -> list[str]:
            return [line for line in text.splitlines() if re.match(r" (ADA|BTC|DOT|ETH|EUR|SOL|USD|USDT) ", line)]

        await page.until(lambda text: rows(text) != rows(first), "a balance to change")

        # A key works: `?` opens the help panel with the console's keys.
        await page.evaluate("window.__terminal.focus()")
        await page.press("?", "Slash", 191, shift=True)
        helped = await page.until(lambda text: "Refresh rate" in text and "Focus Next" in text, "the help panel")
        assert "t Sessions" in helped

        shot = tmp_path_factory.mktemp("serve") / "console-in-chromium.png"
        shot.write_bytes(base64.b64decode((await page.call("Page.captureScreenshot", format="png"))["data"]))
        print(f"screenshot: {shot}")
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000

        # It stays: stdin is the server's pipe, which the console's lost-terminal check must not take for a
        # hung-up SSH session (that check runs every TTY_CHECK_S).
        await asyncio.sleep(max(0.0, opened + TTY_CHECK_S + 1 - time.monotonic()))
        assert Path(f"/proc/{console}").exists()
        assert "LIVE" in await page.screen()

        # Ctrl+C with the tab open: the console quits, then the server; the page says the session ended.
        assert server.interrupt() < EXIT_BOUND_S
        assert server.process.returncode == 0
        assert not Path(f"/proc/{console}").exists()
        assert await page.evaluate("document.body.classList.contains('-closed')")
