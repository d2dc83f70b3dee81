"""How figures read on screen: amounts exact (never through float), ages short."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal


def amount(value: Decimal) -> str:
    """Every digit Kraken sent, grouped in thousands: 12,345,678.1234567891."""
    return f"{value:,f}"


def age(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
