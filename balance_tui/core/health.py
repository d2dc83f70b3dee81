"""The state of the exchange feed, as the operator needs to judge whether to trust the numbers.

`ConnectionHealth` is what every WebSocket feed keeps (the balances feed and the public ticker alike): its
state and since when, the open connection, reconnects, the application ping's round trip, the message rate
and a short log of what happened. `FeedHealth` adds what only the balances feed knows (sequence, token,
channels, Kraken's system status). Writers are the feeds; readers (the UI, headless commands) only read.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

EVENTS_KEPT = 50
RATE_WINDOW_S = 60


class FeedState(StrEnum):
    CONNECTING = "connecting"
    SUBSCRIBING = "subscribing"
    LIVE = "live"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


class FeedEventKind(StrEnum):
    """What happened to a feed; the values are the words shown (at most 10 letters, for one column)."""

    CONNECTED = "connected"  # a WebSocket connection opened
    REFUSED = "refused"  # a handshake or a subscription refused
    SUBSCRIBED = "subscribed"  # a channel's subscribe acknowledged
    SNAPSHOT = "snapshot"  # a channel's snapshot arrived
    GAP = "gap"  # a sequence number skipped: the connection is dropped to resync
    STALE = "stale"  # nothing heard for too long: the connection is dropped
    RESYNC = "resync"  # any other reason to drop the connection and start again from a snapshot
    RESYNCED = "resynced"  # the snapshot after a reconnect, compared with what was known before it
    CLOSED = "closed"  # the connection ended (close code and reason)
    RETRY = "retry"  # a reconnect scheduled
    TOKEN = "token"  # a WebSocket token fetched
    NO_TOKEN = "no token"  # fetching one failed
    SYSTEM = "system"  # Kraken's system status changed
    FAILED = "failed"  # the feed stopped for good


@dataclass(frozen=True, slots=True)
class FeedEvent:
    at: datetime
    kind: FeedEventKind
    text: str


class FeedEventLog:
    """The last `size` feed events. Only state transitions are recorded, never data frames, so the hot
    path allocates nothing for it; `recent()` is cached between records, so a reader polling it at the UI's
    refresh rate copies nothing while the feed is quiet."""

    def __init__(self, size: int = EVENTS_KEPT) -> None:
        self._events: deque[FeedEvent] = deque(maxlen=size)
        self._recent: tuple[FeedEvent, ...] | None = ()
        self.recorded = 0  # ever, including those that have fallen out of the log

    def record(self, at: datetime, kind: FeedEventKind, text: str) -> FeedEvent:
        event = FeedEvent(at, kind, text)
        self._events.append(event)
        self.recorded += 1
        self._recent = None
        return event

    def recent(self) -> tuple[FeedEvent, ...]:
        """The events kept, newest first; the same tuple until the next record."""
        if self._recent is None:
            self._recent = tuple(reversed(self._events))
        return self._recent

    def __len__(self) -> int:
        return len(self._events)


class MessageRate:
    """Messages per second over the last second and the last minute, from one counter per second of a
    one-minute ring: counting a message indexes two short lists and adds one, whatever the rate, and no
    timestamp is kept per message. Times are seconds from a monotonic clock."""

    __slots__ = ("_counts", "_first", "_seconds")

    def __init__(self) -> None:
        self._counts = [0] * RATE_WINDOW_S
        self._seconds = [-1] * RATE_WINDOW_S  # which second each counter is for
        self._first: int | None = None  # the first second anything was counted in

    def count(self, at: float) -> None:
        second = int(at)
        slot = second % RATE_WINDOW_S
        if self._seconds[slot] != second:  # a new second: this counter held one a minute or more ago
            self._seconds[slot], self._counts[slot] = second, 0
            if self._first is None:
                self._first = second
        self._counts[slot] += 1

    def last_second(self, now: float) -> int:
        """Messages in the last whole second before `now` (the current one is still filling)."""
        second = int(now) - 1
        slot = second % RATE_WINDOW_S
        return self._counts[slot] if self._seconds[slot] == second else 0

    def mean_per_second(self, now: float) -> float | None:
        """The mean rate over the last minute's whole seconds, or over the whole seconds since the first
        message when that is less; None before a whole second has passed since it."""
        current = int(now)
        if self._first is None or current <= self._first:
            return None
        span = min(RATE_WINDOW_S, current - self._first)
        since = current - span
        total = sum(n for n, second in zip(self._counts, self._seconds, strict=True) if since <= second < current)
        return total / span


@dataclass(frozen=True, slots=True)
class BlindChange:
    """An asset that moved while the feed was down, found by the resync snapshot."""

    asset: str
    before: Decimal | None  # None: an asset new to us
    after: Decimal
    found_at: datetime


@dataclass(slots=True)
class ConnectionHealth:
    """What every WebSocket feed keeps about its connection."""

    state: FeedState = FeedState.CONNECTING
    state_since: datetime | None = None  # when `state` last changed (None: not since the start)
    error: str = ""
    last_message_at: datetime | None = None
    reconnects: int = 0
    reconnect_reason: str = ""  # why the last reconnect was needed
    retry_at: datetime | None = None  # when the next reconnect attempt is due, while waiting for it
    connected_at: datetime | None = None  # while a connection is open: when it opened
    ping_rtt: float | None = None  # seconds from our last application ping to its pong, on this connection
    rate: MessageRate = field(default_factory=MessageRate)
    events: FeedEventLog = field(default_factory=FeedEventLog)

    def enter(self, state: FeedState, at: datetime) -> None:
        """Change to `state`, remembering when (staying in the same state keeps the time it began)."""
        if state is not self.state:
            self.state, self.state_since = state, at

    def note(self, at: datetime, kind: FeedEventKind, text: str) -> None:
        self.events.record(at, kind, text)

    def message_age(self, now: datetime) -> timedelta | None:
        return None if self.last_message_at is None else now - self.last_message_at


@dataclass(slots=True)
class FeedHealth(ConnectionHealth):
    """The balances feed: the connection, plus the sequence, token, channels and the exchange's status."""

    system: str = ""  # Kraken's `status` channel: online, maintenance, cancel_only, post_only
    sequence: int | None = None
    messages: int = 0
    gaps: int = 0
    blind_changes: tuple[BlindChange, ...] = ()  # from the last resync after a reconnect
    token_at: datetime | None = None  # when the token of the current (or last) connection was fetched
    channels: tuple[str, ...] = ()  # subscriptions acknowledged on the current connection

    def observed_state(self, now: datetime, stale_after: timedelta) -> FeedState:
        """LIVE degrades to STALE from the data itself: an open socket that says nothing is not live."""
        if self.state is FeedState.LIVE and (self.last_message_at is None or now - self.last_message_at > stale_after):
            return FeedState.STALE
        return self.state
