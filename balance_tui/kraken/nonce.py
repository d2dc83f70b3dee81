"""Nonces for signed REST calls: strictly increasing per API key, across restarts and processes.

Kraken keeps one nonce high-water mark per key and rejects anything not above it, so every process
using a key must agree. The mark lives in a small file per key, read and advanced under an exclusive
lock; the nonce is milliseconds since the epoch, or one above the mark when the clock lags behind it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path


class NonceSource:
    """In memory by default (for a key that lives no longer than the process, like the simulator's)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = self._advance(self._last)
            return str(self._last)

    @staticmethod
    def _advance(last: int) -> int:
        return max(time.time_ns() // 1_000_000, last + 1)


class PersistentNonceSource(NonceSource):
    """The high-water mark in `directory`, one file per key, named by a hash of the key (never the key)."""

    def __init__(self, directory: Path, api_key: str) -> None:
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"nonce-{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"

    def next(self) -> str:
        with self._lock, open(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as mark:
            fcntl.flock(mark, fcntl.LOCK_EX)  # released when the file closes
            text = mark.read().strip()
            nonce = self._advance(int(text) if text.isdigit() else 0)
            mark.seek(0)
            mark.write(str(nonce))
            mark.truncate()
            return str(nonce)
