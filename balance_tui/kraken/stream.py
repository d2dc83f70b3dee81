"""The WebSocket v2 balances feed: token, subscribe, parse, hand off to the engine, resync on any doubt."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Generator
from contextlib import aclosing

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import process_exception as retry_policy
from websockets.exceptions import ConnectionClosed

from balance_tui.core.events import BalancesSnapshot, BalancesUpdate
from balance_tui.core.health import FeedState
from balance_tui.core.manager import BalanceManager
from balance_tui.kraken.frames import MAX_FRAME_BYTES, MethodReply, ParseError, SystemStatus, parse
from balance_tui.kraken.rest import KrakenError, KrakenRest

log = logging.getLogger(__name__)


class Resync(Exception):
    """The local state can no longer be trusted: drop the connection and rebuild from a fresh snapshot."""


class FeedFailed(Exception):
    """Retrying cannot help (bad key, wrong endpoint): the feed stops and says why."""


def connect_delays() -> Generator[float]:
    """Backoff for failed connection attempts: 1, 2, 4 ... 30 s, each with up to 20% jitter."""
    delay = 1.0
    while True:
        yield delay * random.uniform(1.0, 1.2)
        delay = min(delay * 2, 30.0)


class BalanceStream:
    def __init__(
        self,
        manager: BalanceManager,
        rest: KrakenRest,
        ws_url: str,
        *,
        reconnect_delay: float = 1.0,
    ) -> None:
        self._manager = manager
        self._rest = rest
        self._url = ws_url
        self._reconnect_delay = reconnect_delay  # after a connection that worked, then dropped
        self._health = manager.health

    async def run(self) -> None:
        """Stream until cancelled or a fatal error; every (re)connection takes a fresh token and snapshot."""
        health = self._health
        connections = connect(
            self._url,
            process_exception=self._connect_failed,
            reconnect_delays=connect_delays,
            max_size=MAX_FRAME_BYTES,
        )
        try:
            # aclosing: leaving the loop (error, cancel) closes the socket now, not at garbage collection.
            async with aclosing(aiter(connections)) as sockets:
                async for ws in sockets:
                    try:
                        await self._session(ws)
                        health.error = "server closed the connection"
                    except ConnectionClosed as exc:
                        health.error = f"connection lost: {exc}"
                    except (Resync, KrakenError) as exc:
                        if isinstance(exc, KrakenError) and exc.fatal:
                            raise FeedFailed(str(exc)) from exc
                        health.error = str(exc)
                    log.warning("balances feed interrupted: %s", health.error)
                    health.state = FeedState.RECONNECTING
                    health.reconnects += 1
                    await asyncio.sleep(self._reconnect_delay)
        except FeedFailed as exc:
            health.state, health.error = FeedState.FAILED, str(exc)
            log.error("balances feed stopped: %s", exc)
        finally:
            if health.state is not FeedState.FAILED:
                health.state = FeedState.STOPPED

    def _connect_failed(self, exc: Exception) -> Exception | None:
        """Record why the handshake failed, then keep websockets' own verdict on whether to retry."""
        self._health.state = FeedState.RECONNECTING
        self._health.error = f"cannot connect to {self._url}: {exc}"
        return retry_policy(exc)

    async def _session(self, ws: ClientConnection) -> None:
        health, manager = self._health, self._manager
        health.state = FeedState.SUBSCRIBING
        token = await self._rest.websockets_token()
        manager.apply(await self._rest.balance_ex())
        subscribe = {
            "method": "subscribe",
            "params": {"channel": "balances", "token": token, "snapshot": True},
            "req_id": 1,
        }
        await ws.send(json.dumps(subscribe))
        expected: int | None = None
        async for raw in ws:
            try:
                frame = parse(raw)
            except ParseError as exc:
                raise Resync(f"bad frame from Kraken: {exc}") from None
            health.messages += 1
            health.last_message_at = manager.clock.now()
            match frame:
                case SystemStatus(system=system):
                    health.system = system
                case MethodReply(success=False, error=error):
                    if error.startswith("ESession"):
                        raise Resync(f"subscription refused: {error}")
                    raise FeedFailed(f"Kraken refused the balances subscription: {error}")
                case BalancesSnapshot(sequence=sequence):
                    manager.apply(frame)
                    expected = sequence + 1
                    health.state, health.sequence, health.error = FeedState.LIVE, sequence, ""
                case BalancesUpdate(sequence=sequence):
                    if expected is None:
                        raise Resync("balances update arrived before the snapshot")
                    if sequence != expected:
                        health.gaps += 1
                        raise Resync(f"sequence gap: expected {expected}, got {sequence}")
                    manager.apply(frame)
                    expected, health.sequence = sequence + 1, sequence
