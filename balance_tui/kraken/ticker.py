"""The WebSocket v2 public `ticker` feed: the latest price of each pair, into a PriceBook.

Public data carries no sequence and every update is a full level-1 ticker, so there is nothing to resync
but the connection: a bad frame, a drop or a silent socket means reconnect and subscribe again (with a
snapshot). The list of symbols only grows: `watch` adds to it while the feed runs (the account came to hold a
new asset), those are subscribed on the live connection and the whole list on every reconnect. A symbol
Kraken refuses is remembered and never asked for again.

A feed that fails for good (the endpoint refuses the handshake) leaves the prices to
`rest_ticker.RestTicker`: the same symbols over REST `Ticker` on a slow timer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import ClientConnection

from balance_tui.core.budgets import ReconnectBudget
from balance_tui.core.health import ConnectionHealth, FeedState
from balance_tui.core.prices import PriceBook, split_symbol
from balance_tui.kraken.connection import NOT_ONLINE_BACKOFF_S, Feed, FeedFailed, Resync
from balance_tui.kraken.frames import (
    MAX_PLACES,
    Frame,
    MethodReply,
    OtherChannel,
    ParseError,
    SystemStatus,
    is_amount,
    parse,
)

log = logging.getLogger(__name__)

_UNSUPPORTED = "Currency pair not supported"
# `parse` has already checked the frame's size, its JSON and that every number in it is a bounded amount,
# so a second decode of a ticker frame can take numbers as plain Decimals safely.
_CHECKED_DECODER = json.JSONDecoder(parse_float=Decimal)


@dataclass(frozen=True, slots=True)
class Ticker:
    """The part of one `ticker` data item the console uses. `last` may be absent; bid and ask then give
    the price (see PriceBook.update)."""

    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None


@dataclass(frozen=True, slots=True)
class TickerFrame:
    kind: str  # snapshot or update
    tickers: tuple[Ticker, ...]


@dataclass(frozen=True, slots=True)
class SubscribeRefused:
    """A failed `subscribe` reply; `symbol` is the pair it refused, when the reply names one."""

    symbol: str | None
    error: str


def parse_public(raw: str | bytes) -> Frame | TickerFrame | SubscribeRefused:
    """`frames.parse`, plus `ticker` frames and failed subscribe replies read in full.

    Raises ParseError naming the field for anything outside the protocol; nothing else escapes.
    """
    frame = parse(raw)
    match frame:
        case OtherChannel(channel="ticker"):
            return _ticker_frame(_decode_checked(raw))
        case MethodReply(method="subscribe", success=False, error=error):
            symbol = _decode_checked(raw).get("symbol")
            if not isinstance(symbol, str) and error.startswith(_UNSUPPORTED):
                symbol = error.removeprefix(_UNSUPPORTED).strip()
            return SubscribeRefused(symbol if isinstance(symbol, str) and symbol else None, error)
    return frame


def _decode_checked(raw: str | bytes) -> dict[str, Any]:
    return _CHECKED_DECODER.decode(raw if isinstance(raw, str) else raw.decode())


def _ticker_frame(message: dict[str, Any]) -> TickerFrame:
    kind = message.get("type")
    if kind not in ("snapshot", "update"):
        raise ParseError(f"ticker.type: expected 'snapshot' or 'update', got {kind!r}")
    data = message.get("data")
    if not isinstance(data, list):
        raise ParseError(f"ticker.data: expected a list, got {type(data).__name__}")
    return TickerFrame(kind, tuple(_ticker(item, f"ticker.data[{i}]") for i, item in enumerate(data)))


def _ticker(item: Any, path: str) -> Ticker:
    if not isinstance(item, dict):
        raise ParseError(f"{path}: expected an object, got {type(item).__name__}")
    symbol = item.get("symbol")
    if not isinstance(symbol, str):
        raise ParseError(f"{path}.symbol: expected a string, got {symbol!r}")
    try:
        split_symbol(symbol)
    except ValueError:
        raise ParseError(f"{path}.symbol: expected BASE/QUOTE, got {symbol[:40]!r}") from None
    bid, ask, last = (_price(item, key, path) for key in ("bid", "ask", "last"))
    if last is None and (bid is None or ask is None):
        raise ParseError(f"{path}: no price: neither last nor both bid and ask")
    return Ticker(symbol, bid, ask, last)


def _price(item: dict[str, Any], key: str, path: str) -> Decimal | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not is_amount(value) or value <= 0:
        raise ParseError(f"{path}.{key}: expected a positive decimal of at most {MAX_PLACES} places, got {value!r}")
    return value


@dataclass(slots=True)
class TickerHealth(ConnectionHealth):
    subscribed: frozenset[str] = frozenset()
    refused: dict[str, str] = field(default_factory=dict)  # symbol -> Kraken's error, never asked for again


class TickerStream(Feed):
    """Subscribe `ticker` for `symbols` (and those `watch` adds) on the public endpoint and keep `prices`
    current until cancelled."""

    name = "ticker"

    def __init__(
        self,
        prices: PriceBook,
        ws_url: str,
        symbols: Iterable[str],
        *,
        stale_after_s: float = 10.0,
        budget: ReconnectBudget | None = None,
    ) -> None:
        super().__init__(ws_url, TickerHealth(), prices.clock, stale_after_s, budget)
        self.health: TickerHealth
        self._prices = prices
        self._symbols = dict.fromkeys(symbols)  # an ordered set
        self._added = asyncio.Event()  # `watch` added symbols: the connection's own task subscribes them
        self._asked: set[str] = set()  # what this connection has subscribed, so nothing is asked for twice
        self._system = ""

    def watch(self, symbols: Iterable[str]) -> None:
        """Watch `symbols` too, from now on. No I/O: safe to call from a balance callback; the feed's own
        task subscribes them."""
        added = [symbol for symbol in symbols if symbol not in self._symbols]
        if added:
            self._symbols.update(dict.fromkeys(added))
            self._added.set()

    async def run(self) -> None:
        """As every feed, while there is something to watch. With nothing (yet, or every symbol refused) it
        waits for `watch` without connecting; any other stop is final."""
        while True:
            while not self._wanted():
                if self.health.state is not FeedState.FAILED:
                    self._enter(FeedState.STOPPED)
                    self.health.error = "no ticker symbols to watch"
                self._added.clear()
                await self._added.wait()
            self._enter(FeedState.CONNECTING)
            await super().run()
            if self._wanted():
                return

    @property
    def symbols(self) -> list[str]:
        """What it watches that Kraken has not refused."""
        return self._wanted()

    @property
    def settled(self) -> bool:
        """Every symbol watched is subscribed on this connection or refused: no answer is still to come."""
        return all(symbol in self.health.subscribed for symbol in self._wanted())

    def _wanted(self) -> list[str]:
        return [symbol for symbol in self._symbols if symbol not in self.health.refused]

    def _pause_before_reconnect(self) -> float:
        return NOT_ONLINE_BACKOFF_S if self._system not in ("", "online") else 0.0

    async def _session(self, ws: ClientConnection) -> None:
        health = self.health
        self._enter(FeedState.SUBSCRIBING)
        health.retry_at, health.subscribed = None, frozenset()
        self._asked = set()
        await self._subscribe_new(ws)
        added = asyncio.create_task(self._subscribe_added(ws), name="ticker-subscribe")
        try:
            await self._read(ws, self._take)
        finally:
            added.cancel()
            await asyncio.gather(added, return_exceptions=True)

    async def _subscribe_added(self, ws: ClientConnection) -> None:
        while True:
            await self._added.wait()
            self._added.clear()
            await self._subscribe_new(ws)

    async def _subscribe_new(self, ws: ClientConnection) -> None:
        """Subscribe what this connection has not asked for yet, with a snapshot so its price comes at once."""
        new = [symbol for symbol in self._wanted() if symbol not in self._asked]
        if new:
            self._asked.update(new)
            params = {"channel": "ticker", "symbol": new, "snapshot": True}
            await ws.send(json.dumps({"method": "subscribe", "params": params}))

    def _take(self, raw: str | bytes) -> None:
        health = self.health
        try:
            frame = parse_public(raw)
        except ParseError as exc:
            log.warning("bad ticker frame, reconnecting: %s", exc)
            raise Resync(f"bad frame from Kraken: {exc}") from None
        health.last_message_at = self._clock.now()
        match frame:
            case TickerFrame(tickers=tickers):
                for ticker in tickers:
                    self._prices.update(ticker.symbol, last=ticker.last, bid=ticker.bid, ask=ticker.ask)
                self._enter(FeedState.LIVE)
            case MethodReply(method="subscribe", success=True, result=result):
                if isinstance(symbol := result.get("symbol"), str):
                    health.subscribed |= {symbol}
                self._enter(FeedState.LIVE)
                health.error = ""
            case MethodReply(method="pong", req_id=req_id):
                self._pong(req_id)
            case SubscribeRefused(symbol=symbol, error=error):
                if error.startswith(_UNSUPPORTED) and symbol in self._symbols:
                    if symbol not in health.refused:
                        health.refused[symbol] = error
                        log.warning("Kraken refused the ticker for %s: %s; not asking again", symbol, error)
                elif not error.startswith("Already subscribed"):
                    # Nothing a reconnect would change: say so and keep streaming what was accepted.
                    health.error = f"ticker subscription refused: {error}"
                    log.warning("ticker subscription refused: %s", error)
                if not self._wanted():
                    raise FeedFailed("Kraken lists none of the ticker symbols asked for")
            case SystemStatus(system=system):
                self._system = system
