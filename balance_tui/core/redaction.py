"""Keep secrets out of every log line, tracebacks included, whatever code wrote the line.

Masked types keep secrets out of our own messages; this catches the rest (a library logging a frame, an
exception that quotes a request). Known secret values are registered as they appear (API key and secret
at start, each WebSocket token when issued) and replaced in the final formatted text, along with anything
shaped like a credential header or a token field. A value is masked in the forms a library may print it in
too: URL-encoded (a query string, a form body) and base64-encoded (an auth header, a dumped payload), the
latter wherever it starts in a longer encoding, in the standard and the URL-safe alphabet.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from urllib.parse import quote, quote_plus

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
            forms = {form for form in encoded_forms(value) if len(form) >= MIN_SECRET_LENGTH}
            with self._lock:
                self._values |= forms

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)  # longest first: no partial leftovers
        for value in values:
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""), text)
        return text


def encoded_forms(value: str) -> set[str]:
    """`value` itself, URL-encoded, and the base64 characters that stand for its bytes alone when it starts at
    each of the three byte offsets of a longer base64 text (the characters shared with neighbours are left)."""
    forms = {value, quote(value), quote(value, safe=""), quote_plus(value)}  # a path keeps "/", a query not
    raw = value.encode()
    for offset in range(3):
        first, last = -(-offset // 3) * 4, (offset + len(raw)) // 3 * 4  # whole 4-character groups of `raw`
        padded = bytes(offset) + raw
        forms |= {encode(padded)[first:last].decode() for encode in (base64.b64encode, base64.urlsafe_b64encode)}
    return forms


SECRETS = SecretRegistry()


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return SECRETS.redact(super().format(record))


# A record logged where no handler is configured (a console still starting, a bot that set up no logging)
# goes to Python's last-resort handler. Every secret is registered here, so any process holding one has run
# this line: that handler masks too.
if logging.lastResort is not None:
    logging.lastResort.setFormatter(RedactingFormatter())
