"""A circuit breaker for the REST path, so a failing exchange is left alone instead of hammered.

CLOSED passes calls and opens after `failure_threshold` consecutive failures (a console polls every few
seconds, so a run of failures says more than a rate over a window would). OPEN rejects calls at once
with `BreakerOpen` until its open time has passed; the next calls become HALF_OPEN probes, at most
`half_open_probes` at a time. The first probe to succeed closes the breaker and resets the open time;
the first to fail re-opens it for twice as long, up to `max_recovery_timeout`.

An outcome counts only if the breaker has not changed state since its call was admitted, so a slow
call from before a trip cannot close it. A cancelled call, or an exception that `is_failure` says is not
the exchange's fault (a bad key, say), counts neither way; it only gives its probe slot back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

from balance_tui.core.clock import Clock, SystemClock

log = logging.getLogger(__name__)

T = TypeVar("T")
StateCallback = Callable[["BreakerState", "BreakerState"], None]
CALLBACK_EVENTS = frozenset({"state_change"})


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerOpen(Exception):
    """The call was not made: the breaker is open, or its half-open probes are all in flight."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in  # seconds until a probe may go through; 0 while probes are in flight


def _every_exception(exc: Exception) -> bool:
    return True


class CircuitBreaker:
    def __init__(
        self,
        name: str = "rest",
        *,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        max_recovery_timeout: float = 300.0,
        half_open_probes: int = 1,
        is_failure: Callable[[Exception], bool] = _every_exception,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_probes < 1:
            raise ValueError("failure_threshold and half_open_probes must be at least 1")
        if not 0 < recovery_timeout <= max_recovery_timeout:
            raise ValueError(f"need 0 < recovery_timeout <= max_recovery_timeout, got {recovery_timeout}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.max_recovery_timeout = max_recovery_timeout
        self.half_open_probes = half_open_probes
        self._is_failure = is_failure
        self._clock = clock or SystemClock()
        self._state = BreakerState.CLOSED
        self._epoch = 0  # bumped on every state change: outcomes of calls admitted earlier are ignored
        self._failures = 0
        self._open_for = recovery_timeout  # the next open time; doubles after each failed probe
        self._retry_at = 0.0
        self._probes = 0
        self._callbacks: dict[str, list[StateCallback]] = {name: [] for name in CALLBACK_EVENTS}

    @property
    def state(self) -> BreakerState:
        """As of the last call: OPEN becomes HALF_OPEN when a call arrives after `retry_in` reaches 0."""
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def open_for(self) -> float:
        """How long the breaker stays open the next time a probe fails or failures trip it."""
        return self._open_for

    @property
    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through; 0 when not open."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._retry_at - self._clock.monotonic())

    def register_callback(self, event: str, fn: StateCallback) -> None:
        """Call `fn(old, new)` on "state_change"; a failing callback is logged, never fatal."""
        if event not in CALLBACK_EVENTS:
            raise ValueError(f"unknown breaker event {event!r}; expected one of {sorted(CALLBACK_EVENTS)}")
        self._callbacks[event].append(fn)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Await `fn()` if the breaker allows it, else raise `BreakerOpen` without calling it."""
        probing = self._admit()
        epoch = self._epoch
        try:
            result = await fn()
        except Exception as exc:
            if epoch == self._epoch and self._is_failure(exc):
                self._on_failure(probing)
            raise
        else:
            if epoch == self._epoch:
                self._on_success()
            return result
        finally:
            if probing and epoch == self._epoch:
                self._probes -= 1

    def trip(self, for_seconds: float) -> None:
        """Open now for at least `for_seconds` (Kraken's rate limit: 60 s); a longer opening already running
        is kept. The backoff for failed probes is unchanged."""
        retry_at = self._clock.monotonic() + for_seconds
        if self._state is BreakerState.OPEN:
            self._retry_at = max(self._retry_at, retry_at)
        else:
            self._open(retry_at)

    def _admit(self) -> bool:
        """Let a call through or raise `BreakerOpen`; return whether it is a half-open probe."""
        if self._state is BreakerState.OPEN:
            if self._clock.monotonic() < self._retry_at:
                retry_in = self.retry_in
                raise BreakerOpen(f"circuit {self.name!r} is open; retry in {retry_in:.1f} s", retry_in)
            self._change(BreakerState.HALF_OPEN)
        if self._state is BreakerState.CLOSED:
            return False
        if self._probes >= self.half_open_probes:
            raise BreakerOpen(f"circuit {self.name!r} is half-open with {self._probes} probe(s) in flight", 0.0)
        self._probes += 1
        return True

    def _on_failure(self, probing: bool) -> None:
        if probing:
            self._open_for = min(self._open_for * 2, self.max_recovery_timeout)
            self._open(self._clock.monotonic() + self._open_for)
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open(self._clock.monotonic() + self._open_for)

    def _on_success(self) -> None:
        self._failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._open_for = self.recovery_timeout
            self._change(BreakerState.CLOSED)

    def _open(self, retry_at: float) -> None:
        self._retry_at = retry_at
        self._change(BreakerState.OPEN)

    def _change(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        self._epoch += 1
        self._failures = 0
        self._probes = 0
        for fn in self._callbacks["state_change"]:
            try:
                fn(old, new)
            except Exception:
                log.exception("breaker %r state callback %r failed (%s -> %s)", self.name, fn, old, new)
