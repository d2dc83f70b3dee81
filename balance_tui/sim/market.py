"""Prices for the demo account: one USD reference price per asset, random-walking from realistic levels,
and the level-1 ticker the public WS endpoint shows for each pair.

Every pair's price derives from the two reference prices, so cross pairs (ETH/BTC) stay consistent with the
USD pairs however long the walk runs.
"""

import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from balance_tui.sim.assets import PAIRS, Pair
from balance_tui.sim.seeded import uniform

_PRECISION = Decimal("1e-12")
_HALF_SPREAD = Decimal("0.0001")  # bid and ask sit a basis point either side of the last trade

# Non-USD assets: (starting USD price, largest relative move per step). USD is the unit, fixed at 1.
_LEVELS: dict[str, tuple[str, str]] = {
    "BTC": ("67250", "0.002"),
    "ETH": ("3480", "0.0025"),
    "EUR": ("1.08", "0.0002"),
    "USDT": ("1.0002", "0.0001"),
    "USDC": ("0.9999", "0.0001"),
    "SOL": ("152", "0.003"),
    "DOT": ("7.1", "0.003"),
    "XRP": ("0.52", "0.003"),
    "LTC": ("84", "0.0025"),
    "DOGE": ("0.155", "0.004"),
    "ADA": ("0.45", "0.003"),
    "LINK": ("14.2", "0.003"),
}


class Market:
    """USD reference prices that move a little on every `walk()`."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._volatility = {name: Decimal(move) for name, (_, move) in _LEVELS.items()}
        self._usd = {"USD": Decimal(1)}
        for name, (level, _) in _LEVELS.items():
            start = Decimal(level) * uniform(rng, Decimal("0.95"), Decimal("1.05"))
            self._usd[name] = start.quantize(_PRECISION)

    def usd_price(self, asset: str) -> Decimal:
        return self._usd[asset]

    def price(self, pair: Pair) -> Decimal:
        """Quote units per base unit, at the pair's price precision."""
        return pair.quantize_price(self._usd[pair.base.name] / self._usd[pair.quote.name])

    def walk(self) -> None:
        """Move every price by a uniform relative step within its asset's volatility."""
        for name, move in self._volatility.items():
            factor = 1 + uniform(self._rng, -move, move)
            self._usd[name] = (self._usd[name] * factor).quantize(_PRECISION)


@dataclass(frozen=True)
class Ticker:
    """Level-1 data for one pair, as the WS v2 `ticker` channel carries it. Volume and vwap are in base
    units and quote per base; change_pct is a percentage."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    volume: Decimal
    vwap: Decimal
    low: Decimal
    high: Decimal
    change: Decimal
    change_pct: Decimal


class Tickers:
    """Each pair's ticker, kept in step with the market: every `update()` trades a little at the new price.

    Its draws come from an RNG of its own, so whether anyone watches the ticker never changes the account's
    seeded history.
    """

    def __init__(self, market: Market, seed: int) -> None:
        self._market = market
        self._rng = random.Random(f"tickers-{seed}")
        self._open: dict[str, Decimal] = {}
        self._low: dict[str, Decimal] = {}
        self._high: dict[str, Decimal] = {}
        self._volume: dict[str, Decimal] = {}
        self._turnover: dict[str, Decimal] = {}  # sum of price times volume, for vwap
        for pair in PAIRS.values():
            price = market.price(pair)
            daily = self._base_amount(pair, Decimal(1_000_000), Decimal(40_000_000))
            self._open[pair.symbol] = self._low[pair.symbol] = self._high[pair.symbol] = price
            self._volume[pair.symbol], self._turnover[pair.symbol] = daily, daily * price
        self._tickers = {pair.symbol: self._ticker(pair) for pair in PAIRS.values()}

    def __getitem__(self, symbol: str) -> Ticker:
        return self._tickers[symbol]

    def update(self) -> None:
        """Take the market's current prices: one more trade per pair, then new top of book."""
        for pair in PAIRS.values():
            symbol, price = pair.symbol, self._market.price(pair)
            traded = self._base_amount(pair, Decimal(100), Decimal(20_000))
            self._volume[symbol] += traded
            self._turnover[symbol] += traded * price
            self._low[symbol] = min(self._low[symbol], price)
            self._high[symbol] = max(self._high[symbol], price)
            self._tickers[symbol] = self._ticker(pair)

    def _ticker(self, pair: Pair) -> Ticker:
        symbol, last = pair.symbol, self._market.price(pair)
        bid = pair.quantize_price(last * (1 - _HALF_SPREAD), ROUND_DOWN)
        ask = max(pair.quantize_price(last * (1 + _HALF_SPREAD), ROUND_UP), bid + pair.tick)
        change = last - self._open[symbol]
        return Ticker(
            symbol=symbol,
            bid=bid,
            bid_qty=self._base_amount(pair, Decimal(500), Decimal(50_000)),
            ask=ask,
            ask_qty=self._base_amount(pair, Decimal(500), Decimal(50_000)),
            last=last,
            volume=self._volume[symbol],
            vwap=pair.quantize_price(self._turnover[symbol] / self._volume[symbol]),
            low=self._low[symbol],
            high=self._high[symbol],
            change=change,
            change_pct=(change / self._open[symbol] * 100).quantize(Decimal("0.01"), ROUND_HALF_UP),
        )

    def _base_amount(self, pair: Pair, low_usd: Decimal, high_usd: Decimal) -> Decimal:
        """A quantity of the pair's base worth between the two USD figures, at the pair's lot precision."""
        usd = uniform(self._rng, low_usd, high_usd)
        return pair.quantize_volume(usd / self._market.usd_price(pair.base.name))
