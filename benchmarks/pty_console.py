"""The console as an operator's terminal holds it: `python -m balance_tui` on the slave side of a pty.

For what drives the real process from outside: benchmarks/console.py imports it as a sibling, the tests
(tests/test_terminal.py) as `benchmarks.pty_console`; the console itself never does. Keys are typed on the
master side, and everything the console draws is read off it by a thread, each read kept with the time it
returned. Stdlib only; nothing of the console is imported.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Mapping


class PtyConsole:
    def __init__(self, *args: str, size: tuple[int, int] = (120, 40), env: Mapping[str, str] | None = None) -> None:
        """`args` are the console's command line; `size` is (columns, rows); `env` adds to this process's."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "balance_tui", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            env={**os.environ, **(env or {}), "TERM": "xterm-256color"},
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self.times: list[float] = []  # when each read returned (time.monotonic)
        self.ends: list[int] = []  # len(output) after it
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the console has gone and the pty with it
                return
            if not chunk:
                return
            self.output.extend(chunk)
            self.times.append(time.monotonic())
            self.ends.append(len(self.output))

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self, *, quit_with: str = "", timeout: float = 10) -> None:
        """Type `quit_with` and wait up to `timeout` for the console to leave, if given; kill it otherwise."""
        if self.process.poll() is None and quit_with:
            self.press(quit_with)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
