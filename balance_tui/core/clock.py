"""Time as a dependency, so tests freeze and advance it instead of sleeping or patching."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC: for timestamps people read and data ages."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go backwards: for timeouts, TTLs, breakers and rate budgets."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
