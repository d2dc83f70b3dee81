"""Prices over REST `Ticker`, for when the WebSocket ticker has failed for good: valuations keep coming,
slowly, instead of going blank for the rest of the run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from balance_tui.core.prices import PriceBook
from balance_tui.kraken.rest import KrakenError, KrakenRest

log = logging.getLogger(__name__)

# Slow, as an operator reads values, and far inside Kraken's limit for public calls.
REST_TICKER_EVERY_S = 30.0


class RestTicker:
    """The `symbols` the ticker feed watched (and those added since) every `every_s`, through the REST
    client's breaker and rate budget. `error` says why the last poll failed ("" once one has worked)."""

    def __init__(
        self,
        prices: PriceBook,
        rest: KrakenRest,
        symbols: Callable[[], Iterable[str]],
        every_s: float = REST_TICKER_EVERY_S,
    ) -> None:
        self.every_s = every_s
        self.error = ""
        self.polled_at: datetime | None = None  # the last poll that worked
        self._prices = prices
        self._rest = rest
        self._symbols = symbols

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.every_s)

    async def poll(self) -> None:
        try:
            tickers = await self._rest.tickers(self._symbols())
        except KrakenError as exc:
            self.error = str(exc)
            log.warning("prices over REST: %s", exc)
            return
        for ticker in tickers:
            self._prices.update(ticker.symbol, last=ticker.last, bid=ticker.bid, ask=ticker.ask)
        self.error, self.polled_at = "", self._prices.clock.now()
