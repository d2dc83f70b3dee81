"""Exact JSON and timestamp text for the simulator's replies.

Kraken writes WS v2 quantities as JSON numbers at full engine precision. The stdlib encoder cannot emit a
Decimal as a bare number without going through float, so this tiny encoder writes each Decimal's exact
digits, and refuses floats outright so none can slip into a reply.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal


def dumps(value: object) -> str:
    """Compact JSON text in which every Decimal appears as a number with exactly its own digits."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_key(key)}:{dumps(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as exact JSON: {value!r}")


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}: {key!r}")
    return json.dumps(key)


def _number(value: Decimal) -> str:
    """Fixed-point text (no exponent), so 0E-10 is written as 0.0000000000."""
    if not value.is_finite():
        raise ValueError(f"JSON has no representation for {value}")
    return format(value, "f")


def rfc3339(moment: datetime) -> str:
    """Kraken's timestamp form: UTC, microseconds, trailing Z (2023-09-22T10:23:42.925034Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
