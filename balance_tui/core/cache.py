"""A bounded, expiring cache of recent values, shared by asyncio tasks and threads (the store writer).

Entries expire a fixed `ttl` after they were set and the least recently used entry is evicted when the
cache is full. Expired entries are swept before every operation, so a reader can never see one and the
size in the statistics counts live entries only. Callbacks run after the lock is released, so a callback
may use the cache; one that raises is logged and the cache carries on.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from balance_tui.core.clock import Clock, SystemClock

log = logging.getLogger(__name__)

V = TypeVar("V")
CacheCallback = Callable[[str, V], None]
CALLBACK_EVENTS = frozenset({"set", "evict", "expire"})


@dataclass(frozen=True, slots=True)
class CacheStats:
    size: int
    max_entries: int
    hits: int
    misses: int
    evictions: int  # live entries pushed out by the size bound
    expirations: int  # entries dropped because their ttl ran out
    oldest_age: float | None = None  # seconds since the oldest live entry was set; None when empty

    @property
    def hit_rate(self) -> float:
        """Hits per lookup, 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class BalanceCache(Generic[V]):
    """TTL + LRU cache keyed by asset (or any string)."""

    def __init__(self, *, ttl: float = 300.0, max_entries: int = 1000, clock: Clock | None = None) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        # Two orders over the same keys: use (for LRU eviction) and setting (= expiry, as the ttl is uniform).
        self._values: OrderedDict[str, V] = OrderedDict()
        self._expires_at: OrderedDict[str, float] = OrderedDict()
        self._hits = self._misses = self._evictions = self._expirations = 0
        self._callbacks: dict[str, list[CacheCallback[V]]] = {name: [] for name in CALLBACK_EVENTS}

    def register_callback(self, event: str, fn: CacheCallback[V]) -> None:
        """Call `fn(key, value)` on "set" (the new value), "evict" or "expire" (the value dropped)."""
        if event not in CALLBACK_EVENTS:
            raise ValueError(f"unknown cache event {event!r}; expected one of {sorted(CALLBACK_EVENTS)}")
        self._callbacks[event].append(fn)

    def get(self, key: str) -> V | None:
        with self._lock:
            dropped = self._sweep()
            value = self._values.get(key)
            if key in self._values:
                self._hits += 1
                self._values.move_to_end(key)
            else:
                self._misses += 1
        self._fire(dropped)
        return value

    def peek(self, key: str) -> V | None:
        """The value, as `get` finds it, without counting a lookup or making it recent: an observer's reads
        (the console's repaint) are not the cache's use, and would make the hit ratio its refresh rate."""
        with self._lock:
            dropped = self._sweep()
            value = self._values.get(key)
        self._fire(dropped)
        return value

    def set(self, key: str, value: V) -> None:
        """Store `value` fresh for `ttl` seconds; evict the least recently used entry if the cache is full."""
        with self._lock:
            dropped = self._sweep()
            self._remove(key)
            if len(self._values) >= self.max_entries:
                old_key, old_value = self._values.popitem(last=False)
                del self._expires_at[old_key]
                self._evictions += 1
                dropped.append(("evict", old_key, old_value))
            self._values[key] = value
            self._expires_at[key] = self._clock.monotonic() + self.ttl
            dropped.append(("set", key, value))
        self._fire(dropped)

    def invalidate(self, key: str) -> bool:
        """Forget `key` (no callback: the caller knows); return whether it was cached."""
        with self._lock:
            dropped = self._sweep()
            found = self._remove(key)
        self._fire(dropped)
        return found

    def clear(self) -> None:
        """Forget everything (no callbacks); statistics are kept."""
        with self._lock:
            self._values.clear()
            self._expires_at.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            dropped = self._sweep()
            oldest = None
            if self._expires_at:  # in setting order, as the ttl is uniform: the first was set longest ago
                oldest = self._clock.monotonic() - (next(iter(self._expires_at.values())) - self.ttl)
            stats = CacheStats(
                len(self._values),
                self.max_entries,
                self._hits,
                self._misses,
                self._evictions,
                self._expirations,
                oldest,
            )
        self._fire(dropped)
        return stats

    def __len__(self) -> int:
        return self.stats().size

    def _sweep(self) -> list[tuple[str, str, V]]:
        """Drop expired entries, oldest first; stop at the first live one since expiry follows setting order."""
        now = self._clock.monotonic()
        dropped: list[tuple[str, str, V]] = []
        while self._expires_at:
            key, expires_at = next(iter(self._expires_at.items()))
            if now < expires_at:
                break
            del self._expires_at[key]
            dropped.append(("expire", key, self._values.pop(key)))
            self._expirations += 1
        return dropped

    def _remove(self, key: str) -> bool:
        if key not in self._values:
            return False
        del self._values[key], self._expires_at[key]
        return True

    def _fire(self, events: list[tuple[str, str, V]]) -> None:
        for event, key, value in events:
            for fn in self._callbacks[event]:
                try:
                    fn(key, value)
                except Exception:
                    log.exception("cache %s callback %r failed for %s", event, fn, key)
