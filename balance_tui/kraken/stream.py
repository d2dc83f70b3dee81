"""The WebSocket v2 private feed (balances and open orders): token, subscribe, parse, hand off to the engine,
resync on any doubt.

Every (re)connection takes a fresh token, fresh holds from REST and a fresh snapshot. The feed is judged
by the data itself: a socket that still answers pings but carries no data or heartbeat is dead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Generator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import process_exception as websockets_retry_policy
from websockets.exceptions import ConnectionClosed, InvalidStatus

from balance_tui.core.budgets import ReconnectBudget
from balance_tui.core.events import BalancesSnapshot, BalancesUpdate, ExecutionsSnapshot, ExecutionsUpdate
from balance_tui.core.health import BlindChange, FeedState
from balance_tui.core.manager import BalanceManager
from balance_tui.core.model import Balance
from balance_tui.kraken.frames import MAX_FRAME_BYTES, MethodReply, ParseError, SystemStatus, parse
from balance_tui.kraken.rest import KrakenError, KrakenRest

log = logging.getLogger(__name__)

# Handshake answers worth retrying: rate limiting and the exchange's edge (Cloudflare 52x) failing.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# Close codes that mean "something is wrong with what we send or receive", not a passing drop:
# alert the operator and wait before trying again, so an oversized snapshot cannot cause a storm.
ALERT_CLOSE_CODES = frozenset({1002, 1003, 1007, 1008, 1009})
ALERT_BACKOFF_S = 60.0
NOT_ONLINE_BACKOFF_S = 5.0  # Kraken: no faster than every 5 s while the system is not online
PING_INTERVAL_S = 30.0  # Kraken drops a connection idle for about a minute
PING = json.dumps({"method": "ping"})


class Resync(Exception):
    """The local state can no longer be trusted: drop the connection and rebuild from a fresh snapshot."""


class FeedFailed(Exception):
    """Retrying cannot help (bad key, wrong endpoint): the feed stops and says why."""


class BalanceStream:
    def __init__(
        self,
        manager: BalanceManager,
        rest: KrakenRest,
        ws_url: str,
        *,
        stale_after_s: float = 5.0,
        budget: ReconnectBudget | None = None,
    ) -> None:
        self._manager = manager
        self._rest = rest
        self._url = ws_url
        self._stale_after_s = stale_after_s
        # A few reconnects at once after a drop, then no faster than the bucket refills: no storms.
        self._budget = budget or ReconnectBudget(clock=manager.clock)
        self._health = manager.health

    async def run(self) -> None:
        """Stream until cancelled or a fatal error."""
        health = self._health
        connections = connect(
            self._url,
            process_exception=self._connect_failed,
            reconnect_delays=self._connect_delays,
            max_size=MAX_FRAME_BYTES,
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
                        health.error, pause = _classify_close(exc, pause)
                    except (Resync, KrakenError) as exc:
                        if isinstance(exc, KrakenError) and exc.fatal:
                            raise FeedFailed(str(exc)) from exc
                        health.error = str(exc)
                    if health.system not in ("", "online"):
                        pause = max(pause, NOT_ONLINE_BACKOFF_S)
                    pause = max(pause, self._rest.breaker.retry_in)  # every connection needs REST first
                    await self._wait_to_reconnect(pause)
        except FeedFailed as exc:
            health.state, health.error = FeedState.FAILED, str(exc)
            log.error("balances feed stopped: %s", exc)
        finally:
            if health.state is not FeedState.FAILED:
                health.state = FeedState.STOPPED

    async def _wait_to_reconnect(self, pause: float) -> None:
        pause = max(pause, self._budget.reserve())
        log.warning("balances feed interrupted: %s; reconnecting in %.1f s", self._health.error, pause)
        self._retry_in(pause)
        await asyncio.sleep(pause)

    def _connect_delays(self) -> Generator[float]:
        """websockets waits this long after each refused or failed handshake: the same bucket as drops."""
        while True:
            wait = self._budget.reserve()
            self._retry_in(wait)
            yield wait

    def _retry_in(self, seconds: float) -> None:
        health = self._health
        health.state = FeedState.RECONNECTING
        health.reconnects += 1
        health.retry_at = self._manager.clock.now() + timedelta(seconds=seconds)

    def _connect_failed(self, exc: Exception) -> Exception | None:
        """Record why the handshake failed; retry rate limits and server errors, never auth refusals."""
        self._health.error = f"cannot connect to {self._url}: {exc}"
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            if status in RETRYABLE_STATUS:
                return None
            return FeedFailed(f"{self._url} refused the connection with HTTP {status}")
        return websockets_retry_policy(exc)

    async def _session(self, ws: ClientConnection) -> None:
        health, manager = self._health, self._manager
        health.state, health.retry_at = FeedState.SUBSCRIBING, None
        token = await self._rest.websockets_token()
        manager.apply((await self._rest.fetch_balances()).holds)
        balances = {"channel": "balances", "token": token, "snapshot": True}
        executions = {"channel": "executions", "token": token, "snap_orders": True, "snap_trades": False}
        await ws.send(json.dumps({"method": "subscribe", "params": balances, "req_id": 1}))
        await ws.send(json.dumps({"method": "subscribe", "params": executions, "req_id": 2}))
        expected = _Expected()
        loop = asyncio.get_running_loop()
        heard = last_ping = loop.time()
        while True:
            # One deadline per quiet spell, not one timer per frame: when it fires after frames kept
            # coming, it is armed again from the last one. Cancelling recv() loses no data.
            try:
                async with asyncio.timeout_at(heard + self._stale_after_s):
                    while True:
                        raw = await ws.recv()
                        heard = loop.time()
                        self._take(raw, expected)
                        if heard - last_ping >= PING_INTERVAL_S:
                            last_ping = heard
                            await ws.send(PING)
            except TimeoutError:
                if loop.time() - heard < self._stale_after_s:
                    continue
                health.state = FeedState.STALE
                raise Resync(f"no data or heartbeat for {self._stale_after_s:g} s") from None

    def _take(self, raw: str | bytes, expected: _Expected) -> None:
        """Parse one frame and hand it to the engine; anything that breaks the sequence means Resync."""
        health, manager = self._health, self._manager
        try:
            frame = parse(raw)
        except ParseError as exc:
            raise Resync(f"bad frame from Kraken: {exc}") from None
        health.messages += 1
        health.last_message_at = manager.clock.now()
        match frame:  # the hot case first: ledger updates are nearly every frame
            case BalancesUpdate(sequence=sequence):
                if expected.balances is None:
                    raise Resync("balances update arrived before the snapshot")
                if sequence != expected.balances:
                    health.gaps += 1
                    raise Resync(f"sequence gap: expected {expected.balances}, got {sequence}")
                manager.apply(frame)
                expected.balances, health.sequence = sequence + 1, sequence
            case BalancesSnapshot(sequence=sequence):
                # Live before applying: the engine then sees the snapshot as the feed's at once, and
                # `before` is everything last known, not only what the cache still holds.
                health.state, health.sequence, health.error = FeedState.LIVE, sequence, ""
                before = manager.get_all_balances()
                manager.apply(frame)
                if health.reconnects:
                    health.blind_changes = _blind_changes(before, manager, manager.clock.now())
                expected.balances = sequence + 1
            case ExecutionsUpdate(sequence=sequence):
                if sequence != expected.orders:
                    health.gaps += 1
                    raise Resync(f"executions sequence gap: expected {expected.orders}, got {sequence}")
                manager.apply(frame)
                expected.orders = sequence + 1
            case ExecutionsSnapshot(sequence=sequence):
                manager.apply(frame)
                expected.orders = sequence + 1
            case SystemStatus(system=system):
                health.system = system
            case MethodReply(success=False, error=error):
                if error.startswith("ESession"):
                    raise Resync(f"subscription refused: {error}")
                raise FeedFailed(f"Kraken refused a subscription: {error}")


@dataclass(slots=True)
class _Expected:
    """The next sequence number each subscription must carry; None until its snapshot."""

    balances: int | None = None
    orders: int | None = None


def _classify_close(exc: ConnectionClosed, pause: float) -> tuple[str, float]:
    close = exc.rcvd or exc.sent
    code = 1006 if close is None else close.code
    reason = f"connection closed ({code}{f': {close.reason}' if close and close.reason else ''})"
    if code in ALERT_CLOSE_CODES:
        return f"{reason}; waiting {ALERT_BACKOFF_S:g} s before trying again", max(pause, ALERT_BACKOFF_S)
    return reason, pause


def _blind_changes(before: dict[str, Balance], manager: BalanceManager, at: datetime) -> tuple[BlindChange, ...]:
    """What moved while the feed could not see: the report an operator needs after every reconnect."""
    after = manager.get_all_balances()
    return tuple(
        BlindChange(asset, before[asset].total if asset in before else None, after[asset].total, at)
        for asset in sorted(after)
        if asset not in before or before[asset].total != after[asset].total
    )
