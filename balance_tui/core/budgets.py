"""Budgets that keep us inside the exchange's limits: REST calls and WebSocket reconnects.

Both answer "may I now" and "how long until I may" from an injected clock, and never sleep themselves:
the caller awaits the delay, so tests move a fake clock instead of waiting. A reconnect budget also carries
the `sleep` its feed awaits each delay with, so a test can hand it one that moves the fake clock instead,
and minutes of reconnect backoff pass in no time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from balance_tui.core.clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class RateTier:
    """One of Kraken's per-key REST counter tiers: calls add to the counter, which decays continuously."""

    name: str
    max_counter: float
    decay_per_second: float


STARTER = RateTier("starter", 15, 0.33)
INTERMEDIATE = RateTier("intermediate", 20, 0.5)
PRO = RateTier("pro", 20, 1)
RATE_TIERS = {tier.name: tier for tier in (STARTER, INTERMEDIATE, PRO)}

# Ledger and trade-history queries cost Kraken's counter 2; every other call costs 1.
_COSTLY_METHODS = frozenset({"Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades"})
_MAX_COST = 2


class RestRateCounter:
    """Our model of Kraken's REST rate counter for one API key, kept `headroom` below the real limit.

    The model can only lag reality (another process on the same key, calls we forgot), so on
    `EAPI:Rate limit exceeded` the caller reports it with `mark_exhausted` and the model catches up.
    """

    def __init__(self, tier: RateTier = STARTER, *, headroom: float = 3, clock: Clock | None = None) -> None:
        if not 0 <= headroom <= tier.max_counter - _MAX_COST:
            raise ValueError(f"headroom {headroom} leaves no room under the {tier.name} limit {tier.max_counter}")
        self.tier = tier
        self.limit = tier.max_counter - headroom
        self._clock = clock or SystemClock()
        self._counter = 0.0
        self._at = self._clock.monotonic()

    @staticmethod
    def cost(method: str) -> int:
        """What a call of the private REST `method` (e.g. "BalanceEx") adds to the counter."""
        return _MAX_COST if method in _COSTLY_METHODS else 1

    @property
    def counter(self) -> float:
        """The counter now, after decay."""
        elapsed = self._clock.monotonic() - self._at
        return max(0.0, self._counter - elapsed * self.tier.decay_per_second)

    def can_call(self, method: str) -> bool:
        return self._clock.monotonic() >= self._allowed_at(method)

    def wait_time(self, method: str) -> float:
        """Seconds until a call of `method` keeps the counter within our limit; 0 if it may go now."""
        return max(0.0, self._allowed_at(method) - self._clock.monotonic())

    def record(self, method: str) -> None:
        """A call of `method` was made (whether or not we were allowed to make it)."""
        self._set(self.counter + self.cost(method))

    def mark_exhausted(self) -> None:
        """Kraken said we are over its limit: assume the counter is full."""
        self._set(self.tier.max_counter)

    def _allowed_at(self, method: str) -> float:
        """When the counter will have decayed enough for `method`: a time, so that waiting `wait_time`
        always makes `can_call` true (comparing decayed counters would not, by a rounding error)."""
        excess = self._counter + self.cost(method) - self.limit
        return self._at + excess / self.tier.decay_per_second

    def _set(self, counter: float) -> None:
        self._counter, self._at = counter, self._clock.monotonic()


class ReconnectBudget:
    """A token bucket for (re)connection attempts, with jittered spacing between them.

    A feed that connects and is dropped at once reconnects `capacity` times in quick succession and then
    once per `refill_seconds`: at most capacity + 60 / refill_seconds attempts in any minute (11 by
    default), well under Cloudflare's 150 per 10 minutes. Each attempt waits a further random
    0..`jitter` seconds after the previous one, so attempts never fire in lockstep.
    """

    def __init__(
        self,
        *,
        capacity: int = 5,
        refill_seconds: float = 10.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if capacity < 1 or refill_seconds <= 0 or jitter < 0:
            raise ValueError("need capacity >= 1, refill_seconds > 0 and jitter >= 0")
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._clock = clock or SystemClock()
        # How a feed waits out a delay after a connection ends (after a refused handshake, websockets itself
        # sleeps the delay it is given, in real time).
        self.sleep = sleep
        # Tokens as of the last attempt (or construction), and the jitter drawn for the next attempt.
        self._tokens: float = capacity
        self._at = self._clock.monotonic()
        self._spacing = 0.0

    @property
    def tokens(self) -> float:
        """Attempts available now (fractional while refilling)."""
        elapsed = max(0.0, self._clock.monotonic() - self._at)  # _at is in the future while one is reserved
        return min(self.capacity, self._tokens + elapsed / self.refill_seconds)

    def reserve(self) -> float:
        """Take the next attempt slot; return the seconds until it is due (0: attempt now).

        Every attempt draws on this one bucket, however the last one failed: websockets asks it how long
        to wait after a refused handshake, the stream after a dropped connection.
        """
        now = self._clock.monotonic()
        due = max(now, self._ready_at())
        self._tokens = min(self.capacity, self._tokens + (due - self._at) / self.refill_seconds) - 1
        self._at = due
        self._spacing = self._rng.uniform(0, self.jitter)
        return due - now

    def _ready_at(self) -> float:
        """When a whole token is in the bucket, plus the spacing drawn at the last attempt."""
        refill_wait = max(0.0, 1 - self._tokens) * self.refill_seconds
        return self._at + refill_wait + self._spacing
