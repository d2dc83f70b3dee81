"""Keeping one Kraken WebSocket feed alive, whatever it carries.

websockets' reconnect iterator makes the connections; one `ReconnectBudget` spaces every attempt, after a
refused handshake and after a dropped connection alike (the iterator alone resets its backoff on every
handshake, so an accept-then-close server would storm it). Close codes and handshake answers are
classified once, here, for every feed.

Every feed keeps a `ConnectionHealth`: what happens to its connections is recorded here as feed events
(connected, refused, closed, stale, retry) and each subclass adds its own (subscribed, snapshot, gap, ...).
Only state transitions are events: a data frame costs a message-rate count and nothing else. An
application ping (`{"method":"ping","req_id":N}`) goes out at the first frame of a connection and then
every `ping_interval_s`; the subclass hands its pong to `_pong`, which measures the round trip.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable, Generator
from contextlib import aclosing
from datetime import timedelta

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import process_exception as websockets_retry_policy
from websockets.exceptions import ConnectionClosed, InvalidStatus

from balance_tui.core.budgets import ReconnectBudget
from balance_tui.core.clock import Clock
from balance_tui.core.health import ConnectionHealth, FeedEventKind, FeedState
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
PING_REQ_IDS_FROM = 1000  # application pings carry req_ids from here up: never one a subscription uses


class Resync(Exception):
    """The local state can no longer be trusted: drop the connection and rebuild from a fresh snapshot.

    `kind` is how the feed's event log names the reason (a gap, a stale feed, a refused token, ...), and
    `event` the event's text when the reason alone would repeat the kind."""

    def __init__(self, reason: str, kind: FeedEventKind = FeedEventKind.RESYNC, event: str = "") -> None:
        super().__init__(reason)
        self.kind = kind
        self.event = event or reason


class FeedFailed(Exception):
    """Retrying cannot help (bad key, wrong endpoint): the feed stops and says why."""


class Feed:
    """Runs `_session` on every connection until cancelled, or until a `FeedFailed` says retrying is useless."""

    name = "feed"  # for the log
    ping_interval_s = 30.0  # Kraken drops a connection idle for about a minute; a ping keeps it open

    def __init__(
        self, url: str, health: ConnectionHealth, clock: Clock, stale_after_s: float, budget: ReconnectBudget | None
    ) -> None:
        self._url = url
        self.health = health
        self._clock = clock
        self._stale_after_s = stale_after_s  # silence (no data, no heartbeat) longer than this is a dead feed
        # A few reconnects at once after a drop, then no faster than the bucket refills: no storms.
        self._budget = budget or ReconnectBudget(clock=clock)
        self._ping_ids = itertools.count(PING_REQ_IDS_FROM)
        self._ping_out: tuple[int, float] | None = None  # the req_id and monotonic send time awaiting a pong

    @property
    def budget(self) -> ReconnectBudget:
        """What spaces this feed's (re)connection attempts: how many it may make at once now."""
        return self._budget

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
                    self._connected()
                    pause, ended = 0.0, FeedEventKind.CLOSED
                    try:
                        await self._session(ws)
                        health.error = said = "server closed the connection"
                    except ConnectionClosed as exc:
                        health.error, pause, said = _classify_close(exc)
                    except Resync as exc:
                        health.error, ended, said = str(exc), exc.kind, exc.event
                    health.connected_at = None
                    self._note(ended, said)
                    await self._wait_to_reconnect(max(pause, self._pause_before_reconnect()))
        except FeedFailed as exc:
            health.error = str(exc)
            self._enter(FeedState.FAILED)
            self._note(FeedEventKind.FAILED, health.error)
            log.error("%s feed stopped: %s", self.name, exc)
        finally:
            health.connected_at = None
            if health.state is not FeedState.FAILED:
                self._enter(FeedState.STOPPED)

    def _connected(self) -> None:
        health, now = self.health, self._clock.now()
        health.connected_at, health.ping_rtt, self._ping_out = now, None, None
        health.note(now, FeedEventKind.CONNECTED, f"to {self._url}")

    def _enter(self, state: FeedState) -> None:
        if state is not self.health.state:  # the clock is read only on a change: ticker frames call this
            self.health.enter(state, self._clock.now())

    def _note(self, kind: FeedEventKind, text: str) -> None:
        self.health.note(self._clock.now(), kind, text)

    async def _session(self, ws: ClientConnection) -> None:
        """One connection's life: subscribe and read until it ends or raises Resync / FeedFailed."""
        raise NotImplementedError

    async def _read(self, ws: ClientConnection, take: Callable[[str | bytes], None]) -> None:
        """Hand every frame to `take`, ping now and then, and Resync once the feed says nothing for too long
        (judged by data: the socket may still answer pings).

        Pings go out only as frames arrive: Kraken sends a heartbeat every second, so a quiet feed is a dead
        one, and keeping it open would only delay the reconnect. The first frame sends one, so the round
        trip is known from the start of every connection."""
        loop, ping_interval_s = asyncio.get_running_loop(), self.ping_interval_s
        count, monotonic = self.health.rate.count, self._clock.monotonic
        heard = loop.time()
        last_ping = heard - ping_interval_s
        while True:
            # One deadline per quiet spell, not one timer per frame: when it fires after frames kept
            # coming, it is armed again from the last one. Cancelling recv() loses no data.
            try:
                async with asyncio.timeout_at(heard + self._stale_after_s):
                    while True:
                        raw = await ws.recv()
                        heard = loop.time()
                        count(monotonic())
                        take(raw)
                        if heard - last_ping >= ping_interval_s:
                            last_ping = heard
                            await self._ping(ws)
            except TimeoutError:
                if loop.time() - heard < self._stale_after_s:
                    continue
                self._enter(FeedState.STALE)
                raise Resync(f"no data or heartbeat for {self._stale_after_s:g} s", FeedEventKind.STALE) from None

    async def _ping(self, ws: ClientConnection) -> None:
        req_id = next(self._ping_ids)
        self._ping_out = (req_id, self._clock.monotonic())
        await ws.send(json.dumps({"method": "ping", "req_id": req_id}))

    def _pong(self, req_id: int | None) -> None:
        """A pong arrived: the round trip of the ping it answers (one without a req_id answers the last)."""
        out = self._ping_out
        if out is not None and req_id in (None, out[0]):
            self._ping_out = None
            self.health.ping_rtt = max(0.0, self._clock.monotonic() - out[1])

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
        health, budget = self.health, self._budget
        self._enter(FeedState.RECONNECTING)
        health.reconnects += 1
        health.reconnect_reason = health.error
        health.retry_at = self._clock.now() + timedelta(seconds=seconds)
        self._note(FeedEventKind.RETRY, f"in {seconds:.1f} s, budget {int(budget.tokens)}/{budget.capacity} left")

    def _connect_failed(self, exc: Exception) -> Exception | None:
        """Record why the handshake failed; retry rate limits and server errors, never auth refusals."""
        health = self.health
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            said = f"HTTP {status}"  # the status, not websockets' prose
            if status not in RETRYABLE_STATUS:
                health.error = f"cannot connect to {self._url}: {said}"
                return FeedFailed(f"{self._url} refused the connection with HTTP {status}")
            verdict = None
        else:
            said, verdict = str(exc), websockets_retry_policy(exc)
        health.error = f"cannot connect to {self._url}: {said}"
        if verdict is None:
            self._note(FeedEventKind.REFUSED, said)  # the URL is the connected event's
        return verdict


def _classify_close(exc: ConnectionClosed) -> tuple[str, float, str]:
    """What to tell the operator, how long to wait, and the event's text (the code and reason)."""
    close = exc.rcvd or exc.sent
    code = 1006 if close is None else close.code
    said = f"{code}{f': {close.reason}' if close and close.reason else ''}"
    if code in ALERT_CLOSE_CODES:
        hint = f": {_ALERT_HINTS[code]}" if code in _ALERT_HINTS else ""
        wait = f"{hint}; waiting {ALERT_BACKOFF_S:g} s before trying again"
        return f"connection closed ({said}){wait}", ALERT_BACKOFF_S, said + wait
    return f"connection closed ({said})", 0.0, said
