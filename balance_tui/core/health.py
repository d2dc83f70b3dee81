"""The state of the exchange feed, as the operator needs to judge whether to trust the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class FeedState(StrEnum):
    CONNECTING = "connecting"
    SUBSCRIBING = "subscribing"
    LIVE = "live"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class BlindChange:
    """An asset that moved while the feed was down, found by the resync snapshot."""

    asset: str
    before: Decimal | None  # None: an asset new to us
    after: Decimal
    found_at: datetime


@dataclass(slots=True)
class FeedHealth:
    state: FeedState = FeedState.CONNECTING
    system: str = ""  # Kraken's `status` channel: online, maintenance, cancel_only, post_only
    last_message_at: datetime | None = None
    sequence: int | None = None
    messages: int = 0
    reconnects: int = 0
    gaps: int = 0
    error: str = ""
    blind_changes: tuple[BlindChange, ...] = ()  # from the last resync after a reconnect
    retry_at: datetime | None = None  # when the next reconnect attempt is due, while waiting for it

    def observed_state(self, now: datetime, stale_after: timedelta) -> FeedState:
        """LIVE degrades to STALE from the data itself: an open socket that says nothing is not live."""
        if self.state is FeedState.LIVE and (self.last_message_at is None or now - self.last_message_at > stale_after):
            return FeedState.STALE
        return self.state

    def message_age(self, now: datetime) -> timedelta | None:
        return None if self.last_message_at is None else now - self.last_message_at
