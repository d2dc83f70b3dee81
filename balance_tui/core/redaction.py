"""Keep secrets out of every log line, tracebacks included, whatever code wrote the line.

Masked types keep secrets out of our own messages; this catches the rest (a library logging a frame, an
exception that quotes a request). Known secret values are registered as they appear (API key and secret
at start, each WebSocket token when issued) and replaced in the final formatted text, along with anything
shaped like a credential header or a token field.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "[redacted]"
MIN_SECRET_LENGTH = 8  # shorter values would mask ordinary words
_PATTERNS = (
    re.compile(r'("token"\s*:\s*")[^"]+(")'),
    re.compile(r"((?:API-Key|API-Sign)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+", re.IGNORECASE),
)


class SecretRegistry:
    """The secret values this process holds; thread-safe, since log records come from any thread."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) >= MIN_SECRET_LENGTH:
            with self._lock:
                self._values.add(value)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)  # longest first: no partial leftovers
        for value in values:
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""), text)
        return text


SECRETS = SecretRegistry()


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return SECRETS.redact(super().format(record))
