"""Secrets canary: an API key and secret carrying unique marks go through every way the console runs, and not
one of its outputs holds them, in any form.

The console runs as an operator runs it: `balance-tui` processes against simulated Krakens on loopback that
accept (or refuse) exactly these credentials. Covered: the console in a pseudo-terminal (announcing an
adjustment, and a screenshot taken from the command palette), `status --once` (table and JSON), `watch
--jsonl`, `adjust`, both exports and `db backup`; and the failures, each from the headless command and the
console: a refused key, a WebSocket handshake refused with 403, a database file that is not a database.
Then every file the runs left (the log under the user log directory, screenshots, backups, the store
itself, nonce files) and every byte they wrote to a terminal, stdout or stderr (exports included) is
searched for the key and the secret: raw, base64-encoded (at each of the three byte alignments, so a
fragment inside a longer encoding is found too), URL-encoded, the secret's decoded bytes (raw and hex), and
8-character heads and tails of the marks. Zero occurrences.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import platformdirs
import pytest

from balance_tui.config import APP_NAME
from balance_tui.sim import Faults, Simulator
from tests.conftest import write_config
from tests.test_terminal import Terminal, until

TIMEOUT_S = 60


@dataclass(frozen=True)
class Canary:
    """An API key and a base64 secret, each with a random mark no output could contain by chance."""

    key_mark: str = field(default_factory=lambda: secrets.token_hex(16))
    secret_mark: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def key(self) -> str:
        return f"CanaryKey+{self.key_mark}/="  # '+', '/' and '=' change under URL encoding

    @property
    def secret(self) -> str:
        return f"CanarySecret{self.secret_mark}+/Aa"  # 48 base64 characters: valid for signing

    def needles(self) -> dict[bytes, str]:
        """Every form of the canaries worth searching for, each with a name for the report."""
        found: dict[bytes, str] = {}
        decoded = base64.b64decode(self.secret, validate=True)
        for name, value in (("key", self.key), ("secret", self.secret)):
            found[value.encode()] = name
            found[quote(value, safe="").encode()] = f"URL-encoded {name}"
            found[quote_plus(value).encode()] = f"URL-encoded {name}"
            for fragment in base64_forms(value.encode()):
                found[fragment] = f"base64 of the {name}"
        for name, mark in (("key", self.key_mark), ("secret", self.secret_mark)):
            found[mark[:8].encode()] = f"head of the {name}'s mark"
            found[mark[-8:].encode()] = f"tail of the {name}'s mark"
        found[decoded] = "decoded secret"
        found[decoded.hex().encode()] = "decoded secret, hex"
        for fragment in base64_forms(decoded):  # the secret itself, re-encoded as a fragment of something longer
            found.setdefault(fragment, "base64 of the decoded secret")
        return found


def base64_forms(value: bytes) -> set[bytes]:
    """What `value` looks like inside any base64 text (standard or URL-safe alphabet): for each of the three
    offsets it can start at, the characters made of its bytes alone."""
    forms = set()
    for shift in range(3):
        start, end = (shift + 2) // 3 * 4, (shift + len(value)) // 3 * 4
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(b"\0" * shift + value)[start:end])
    return forms


def occurrences(needles: dict[bytes, str], where: str, data: bytes) -> list[str]:
    return [f"{name} in {where}" for needle, name in needles.items() if needle in data]


class Exchanges:
    """Simulated Krakens on loopback, running in a thread of their own while the console processes use them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="simulators", daemon=True)
        self.thread.start()
        self.running: list[Simulator] = []

    def start(self, key: str, secret: str, faults: str = "") -> Simulator:
        async def start() -> Simulator:
            sim = Simulator(seed=5, api_key=key, api_secret=secret, updates_per_second=5, faults=Faults.parse(faults))
            await sim.start()
            return sim

        sim = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=30)
        self.running.append(sim)
        return sim

    def close(self) -> None:
        for sim in self.running:
            asyncio.run_coroutine_threadsafe(sim.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class Outputs:
    """What the runs wrote to terminals, stdout and stderr, by where it came from."""

    captured: dict[str, bytes] = field(default_factory=dict)

    def add(self, where: str, data: bytes) -> None:
        self.captured[where] = self.captured.get(where, b"") + data


def exchange(sim: Simulator) -> dict[str, str]:
    return {
        "name": "kraken",
        "rest_url": sim.rest_url,
        "ws_private_url": sim.ws_private_url,
        "ws_public_url": sim.ws_public_url,
    }


@pytest.fixture
def exchanges() -> Iterator[Exchanges]:
    running = Exchanges()
    yield running
    running.close()


def test_no_output_of_any_run_holds_the_key_or_the_secret(tmp_path: Path, exchanges: Exchanges) -> None:
    canary = Canary()
    home = Path(os.environ["HOME"])
    good = exchanges.start(canary.key, canary.secret)
    other = secrets.token_bytes(64)
    refusing = exchanges.start("another-key", base64.b64encode(other).decode())  # our key: EAPI:Invalid key
    no_handshake = exchanges.start(canary.key, canary.secret, faults="refuse=403x1000")
    broken_db = tmp_path / "broken.db"
    broken_db.write_bytes(b"this is not a database file " * 200)
    configs = {
        "good": write_config(tmp_path / "good.toml", {"exchange": exchange(good)}),
        "refused": write_config(tmp_path / "refused.toml", {"exchange": exchange(refusing)}),
        "handshake": write_config(tmp_path / "handshake.toml", {"exchange": exchange(no_handshake)}),
        "broken": write_config(
            tmp_path / "broken.toml",
            {"exchange": exchange(good), "store": {"database_url": f"sqlite:///{broken_db}"}},
        ),
    }
    # The console reads the credentials file; the headless commands take the environment (which wins).
    credentials = Path(platformdirs.user_config_dir(APP_NAME)) / "credentials.toml"
    credentials.parent.mkdir(parents=True)
    credentials.write_text(f'api_key = "{canary.key}"\napi_secret = "{canary.secret}"\n')
    credentials.chmod(0o600)
    with_env = {**os.environ, "KRAKEN_API_KEY": canary.key, "KRAKEN_API_SECRET": canary.secret}
    outputs = Outputs()
    codes: dict[str, int] = {}

    def run(name: str, config: str, *args: str, env: dict[str, str] | None = None) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "balance_tui", *args, "--config", str(configs[config])],
            capture_output=True,
            env=env or os.environ,
            timeout=TIMEOUT_S,
            check=False,
        )
        outputs.add(f"{name} stdout", done.stdout)
        outputs.add(f"{name} stderr", done.stderr)
        codes[name] = done.returncode

    def watch(name: str) -> None:
        """`watch --jsonl` until it has printed a few lines, then Ctrl+C."""
        process = subprocess.Popen(
            [sys.executable, "-m", "balance_tui", "watch", "--jsonl", "--config", str(configs["good"])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=with_env,
        )
        lines = [process.stdout.readline() for _ in range(3)]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT_S)
        outputs.add(f"{name} stdout", b"".join(lines) + out)
        outputs.add(f"{name} stderr", err)
        codes[name] = process.returncode

    def console(name: str, config: str, ready: bytes, then: Callable[[Terminal], None] | None = None) -> None:
        terminal = Terminal("--config", str(configs[config]))
        try:
            until(lambda: ready in terminal.output, f"{ready!r} on the {name} console", timeout=TIMEOUT_S)
            if then is not None:
                then(terminal)
            terminal.press("q")
            terminal.wait_exit(timeout=TIMEOUT_S)
            codes[name] = terminal.process.returncode
        finally:
            terminal.close()
            outputs.add(f"{name} terminal", bytes(terminal.output))

    screenshots = Path(platformdirs.user_data_dir(APP_NAME)) / "screenshots"

    def adjust_and_screenshot(terminal: Terminal) -> None:
        run("adjust", "good", "adjust", "USD", "12.5", "--reason", "canary run")
        until(lambda: b"canary run" in terminal.output, "the adjustment announced", timeout=TIMEOUT_S)
        terminal.press("\x10")  # ctrl+p: the command palette
        time.sleep(0.5)
        terminal.press("screenshot")
        time.sleep(0.5)
        terminal.press("\r")
        until(lambda: any(screenshots.glob("*.svg")), "the screenshot", timeout=TIMEOUT_S)

    with ThreadPoolExecutor(max_workers=3) as pool:
        background = [
            pool.submit(run, "status", "good", "status", "--once", env=with_env),
            pool.submit(run, "status --json", "good", "status", "--once", "--json", env=with_env),
            pool.submit(watch, "watch"),
            pool.submit(run, "status, key refused", "refused", "status", "--once", "--timeout", "5", env=with_env),
            pool.submit(run, "status, handshake refused", "handshake", "status", "--once", "--timeout", "5"),
            pool.submit(run, "status, broken store", "broken", "status", "--once", env=with_env),
            pool.submit(run, "backup, broken store", "broken", "db", "backup"),
        ]
        console("console", "good", b"LIVE", adjust_and_screenshot)
        for job in background:
            job.result()
    with ThreadPoolExecutor(max_workers=4) as pool:
        after = [
            pool.submit(console, "console, key refused", "refused", b"EAPI:Invalid key"),
            pool.submit(console, "console, handshake refused", "handshake", b"403"),
            pool.submit(console, "console, broken store", "broken", b"cannot open the store"),
            pool.submit(run, "export csv", "good", "export", "--format", "csv"),
            pool.submit(run, "export json", "good", "export", "--format", "json"),
            pool.submit(run, "backup", "good", "db", "backup"),
        ]
        for job in after:
            job.result()

    # The runs did what they should: otherwise an empty output would pass the search.
    text = {where: data.decode(errors="replace") for where, data in outputs.captured.items()}
    assert codes["status"] == codes["status --json"] == codes["adjust"] == codes["export csv"] == 0, codes
    assert codes["backup"] == codes["console"] == 0, codes
    assert '"healthy": true' in text["status --json stdout"]
    assert text["watch stdout"].count('"asset"') >= 3
    assert "canary run" in text["export csv stdout"] and "canary run" in text["export json stdout"]
    assert codes["status, key refused"] == 2 and "EAPI:Invalid key" in text["status, key refused stderr"]
    assert codes["status, handshake refused"] == 2 and "HTTP 403" in text["status, handshake refused stderr"]
    for name in ("status", "backup"):
        assert codes[f"{name}, broken store"] == 1, (name, text[f"{name}, broken store stderr"])
        assert "cannot open the store" in text[f"{name}, broken store stderr"]
    log = Path(platformdirs.user_log_dir(APP_NAME)) / "balance-tui.log"
    assert "session" in log.read_text() and "EAPI:Invalid key" in log.read_text()
    (backup,) = (Path(platformdirs.user_data_dir(APP_NAME)) / "backups").glob("*.db")
    (screenshot,) = screenshots.glob("*.svg")
    assert backup.stat().st_size > 0 and "<svg" in screenshot.read_text()[:200]

    needles = canary.needles()
    # The search finds each form where it is (here, the credentials file, which is meant to hold them).
    assert occurrences(needles, "", credentials.read_bytes())
    for planted in (quote(canary.secret, safe=""), base64.b64encode(b"x" + canary.key.encode()).decode()):
        assert occurrences(needles, "", f"... {planted} ...".encode()), planted

    leaks = []
    files = [path for root in (home, tmp_path) for path in root.rglob("*") if path.is_file() and path != credentials]
    assert log in files and backup in files and screenshot in files
    for path in files:
        leaks += occurrences(needles, f"the name {path}", str(path).encode())
        leaks += occurrences(needles, str(path), path.read_bytes())
    for where, data in outputs.captured.items():
        leaks += occurrences(needles, where, data)
    assert not leaks, "\n".join(sorted(set(leaks)))
