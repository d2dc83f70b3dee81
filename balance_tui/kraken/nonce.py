"""Nonces for signed REST calls: milliseconds since the epoch, strictly increasing within the process."""

from __future__ import annotations

import threading
import time


class NonceSource:
    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(time.time_ns() // 1_000_000, self._last + 1)
            return str(self._last)
