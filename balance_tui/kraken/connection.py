"""Keeping one Kraken WebSocket feed alive, whatever it carries.

websockets' reconnect iterator makes the connections; one `ReconnectBudget` spaces every attempt, after a
refused handshake and after a dropped connection alike (the iterator alone resets its backoff on every
handshake, so an accept-then-close server would storm it). Close codes and handshake answers are
classified once, here, for every feed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Generator
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import process_exception as websockets_retry_policy
from websockets.exceptions import ConnectionClosed, InvalidStatus

from balance_tui.core.budgets import ReconnectBudget
from balance_tui.core.clock import Clock
from balance_tui.core.health import FeedState
from balance_tui.kraken.frames import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

# Handshake answers worth retrying: rate limiting and the exchange's edge (Cloudflare 52x) failing.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# Close codes that mean "something is wrong with what we send or receive", not a passing drop:
# alert the operator and wait before trying again, so an oversized snapshot cannot cause a storm.
ALERT_CLOSE_CODES = frozenset({1002, 1003, 1007, 1008, 1009})
ALERT_BACKOFF_S = 60.0
# websockets' reason for a 1009 says a frame exceeds "limit of 1048576 bytes"; whose limit, and what it means:
_ALERT_HINTS = {1009: f"a message from the exchange is over this console's {MAX_FRAME_BYTES // 2**20} MiB limit"}
NOT_ONLINE_BACKOFF_S = 5.0  # Kraken: no faster than every 5 s while the system is not online
# Short, explicit handshake limits: quitting must never wait out websockets' 10 s defaults for a close reply.
OPEN_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 0.5
PING = json.dumps({"method": "ping"})


class Resync(Exception):
    """The local state can no longer be trusted: drop the connection and rebuild from a fresh snapshot."""


class FeedFailed(Exception):
    """Retrying cannot help (bad key, wrong endpoint): the feed stops and says why."""


class FeedStatus(Protocol):
    state: FeedState
    error: str
    reconnects: int
    retry_at: datetime | None


class Feed:
    """Runs `_session` on every connection until cancelled, or until a `FeedFailed` says retrying is useless."""

    name = "feed"  # for the log
    ping_interval_s = 30.0  # Kraken drops a connection idle for about a minute; a ping keeps it open

    def __init__(
        self, url: str, health: FeedStatus, clock: Clock, stale_after_s: float, budget: ReconnectBudget | None
    ) -> None:
        self._url = url
        self.health = health
        self._clock = clock
        self._stale_after_s = stale_after_s  # silence (no data, no heartbeat) longer than this is a dead feed
        # A few reconnects at once after a drop, then no faster than the bucket refills: no storms.
        self._budget = budget or ReconnectBudget(clock=clock)

    async def run(self) -> None:
        health = self.health
        connections = connect(
            self._url,
            process_exception=self._connect_failed,
            reconnect_delays=self._connect_delays,
            max_size=MAX_FRAME_BYTES,
            open_timeout=OPEN_TIMEOUT_S,
            close_timeout=CLOSE_TIMEOUT_S,
        )
        try:
            # aclosing: leaving the loop (error, cancel) closes the socket now, not at garbage collection.
            async with aclosing(aiter(connections)) as sockets:
                async for ws in sockets:
                    pause = 0.0
                    try:
                        await self._session(ws)
                        health.error = "server closed the connection"
                    except ConnectionClosed as exc:
                        health.error, pause = _classify_close(exc)
                    except Resync as exc:
                        health.error = str(exc)
                    await self._wait_to_reconnect(max(pause, self._pause_before_reconnect()))
        except FeedFailed as exc:
            health.state, health.error = FeedState.FAILED, str(exc)
            log.error("%s feed stopped: %s", self.name, exc)
        finally:
            if health.state is not FeedState.FAILED:
                health.state = FeedState.STOPPED

    async def _session(self, ws: ClientConnection) -> None:
        """One connection's life: subscribe and read until it ends or raises Resync / FeedFailed."""
        raise NotImplementedError

    async def _read(self, ws: ClientConnection, take: Callable[[str | bytes], None]) -> None:
        """Hand every frame to `take`, ping now and then, and Resync once the feed says nothing for too long
        (judged by data: the socket may still answer pings).

        Pings go out only as frames arrive: Kraken sends a heartbeat every second, so a quiet feed is a dead
        one, and keeping it open would only delay the reconnect."""
        loop, ping_interval_s = asyncio.get_running_loop(), self.ping_interval_s
        heard = last_ping = loop.time()
        while True:
            # One deadline per quiet spell, not one timer per frame: when it fires after frames kept
            # coming, it is armed again from the last one. Cancelling recv() loses no data.
            try:
                async with asyncio.timeout_at(heard + self._stale_after_s):
                    while True:
                        raw = await ws.recv()
                        heard = loop.time()
                        take(raw)
                        if heard - last_ping >= ping_interval_s:
                            last_ping = heard
                            await ws.send(PING)
            except TimeoutError:
                if loop.time() - heard < self._stale_after_s:
                    continue
                self.health.state = FeedState.STALE
                raise Resync(f"no data or heartbeat for {self._stale_after_s:g} s") from None

    def _pause_before_reconnect(self) -> float:
        """A feed's own reason to wait longer (the exchange in maintenance, REST paused)."""
        return 0.0

    async def _wait_to_reconnect(self, pause: float) -> None:
        pause = max(pause, self._budget.reserve())
        log.warning("%s feed interrupted: %s; reconnecting in %.1f s", self.name, self.health.error, pause)
        self._retry_in(pause)
        await self._budget.sleep(pause)

    def _connect_delays(self) -> Generator[float]:
        """websockets waits this long after each refused or failed handshake: the same bucket as drops."""
        while True:
            wait = self._budget.reserve()
            self._retry_in(wait)
            yield wait

    def _retry_in(self, seconds: float) -> None:
        health = self.health
        health.state = FeedState.RECONNECTING
        health.reconnects += 1
        health.retry_at = self._clock.now() + timedelta(seconds=seconds)

    def _connect_failed(self, exc: Exception) -> Exception | None:
        """Record why the handshake failed; retry rate limits and server errors, never auth refusals."""
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            self.health.error = f"cannot connect to {self._url}: HTTP {status}"  # the status, not websockets' prose
            if status in RETRYABLE_STATUS:
                return None
            return FeedFailed(f"{self._url} refused the connection with HTTP {status}")
        self.health.error = f"cannot connect to {self._url}: {exc}"
        return websockets_retry_policy(exc)


def _classify_close(exc: ConnectionClosed) -> tuple[str, float]:
    close = exc.rcvd or exc.sent
    code = 1006 if close is None else close.code
    reason = f"connection closed ({code}{f': {close.reason}' if close and close.reason else ''})"
    if code in ALERT_CLOSE_CODES:
        hint = f": {_ALERT_HINTS[code]}" if code in _ALERT_HINTS else ""
        return f"{reason}{hint}; waiting {ALERT_BACKOFF_S:g} s before trying again", ALERT_BACKOFF_S
    return reason, 0.0
