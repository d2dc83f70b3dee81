"""Latest market prices per pair, and what holdings are worth in a quote asset.

Rounding: prices and amounts stay exact Decimals. Products (amount x price) and the bid/ask mid are computed
exactly, in a context wide enough that nothing is rounded. Only a division can be inexact (valuing through
an inverse pair, e.g. USD in BTC via BTC/USD): a value divides once, last (amount x numerator / denominator),
to DIVISION_PRECISION significant digits, half-even, far beyond any display precision, so 300 JPY at USD/JPY
150 is exactly 2 USD. Quantizing for display is the caller's job.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from balance_tui.core.clock import Clock
from balance_tui.core.exact import EXACT
from balance_tui.core.model import Balance

DIVISION_PRECISION = 40
_DIVIDE = Context(prec=DIVISION_PRECISION, rounding=ROUND_HALF_EVEN)
# Bridges tried first for a one-hop valuation, so the route is stable and goes through the deepest markets.
PREFERRED_BRIDGES = ("USD", "EUR", "BTC", "ETH", "USDT", "USDC")
ONE = Decimal(1)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Quote:
    """A pair's latest price (quote units per base unit) and when it was seen."""

    price: Decimal
    seen_at: datetime


def split_symbol(symbol: str) -> tuple[str, str]:
    """'BTC/USD' -> ('BTC', 'USD'); ValueError for anything that is not BASE/QUOTE."""
    base, slash, quote = symbol.partition("/")
    if not slash or not base or not quote or "/" in quote:
        raise ValueError(f"not a BASE/QUOTE symbol: {symbol!r}")
    return base, quote


class PriceBook:
    """The latest price per WS v2 symbol ("BTC/USD"), fed by the ticker stream, read by the UI."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._quotes: dict[str, Quote] = {}
        self._rates: dict[tuple[str, str], str] = {}  # (base, quote) -> symbol
        self.revision = 0  # counts the prices taken: a reader that drew the values compares it to see news
        # The pairs each (asset, quote) is valued through, or None: found again only when a new pair arrives
        # (looking through every bridge for each asset held was most of an idle tick with 200 assets).
        self._paths: dict[tuple[str, str], tuple[tuple[str, str], ...] | None] = {}

    def update(
        self,
        symbol: str,
        *,
        last: Decimal | None = None,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
    ) -> Decimal | None:
        """Record a ticker: `last`, or the bid/ask mid when last is missing. Returns the price taken, or
        None (and changes nothing) when there is no positive price to take."""
        price = last if last is not None else _mid(bid, ask)
        if price is None or not price.is_finite() or price <= 0:
            return None
        base, quote = split_symbol(symbol)
        self._quotes[symbol] = Quote(price, self.clock.now())
        if (base, quote) not in self._rates:
            self._rates[base, quote] = symbol
            self._paths.clear()
        self.revision += 1
        return price

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def price(self, symbol: str) -> Decimal | None:
        found = self._quotes.get(symbol)
        return None if found is None else found.price

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(self._quotes)

    def rate(self, asset: str, quote: str = "USD") -> Decimal | None:
        """Units of `quote` per unit of `asset`: 1 for the quote itself, else the direct pair, the inverse
        pair, or one hop through a bridge asset in the book; None when there is no route."""
        return self.value(asset, ONE, quote)

    def value(self, asset: str, amount: Decimal, quote: str = "USD") -> Decimal | None:
        """`amount` of `asset` in `quote` units; None when no route. Exact unless the route goes through an
        inverse pair, whose division is done once, last, to DIVISION_PRECISION digits (see the module doc)."""
        route = self._route(asset, quote)
        if route is None:
            return None
        numerator, denominator = route
        worth = EXACT.multiply(amount, numerator)
        return worth if denominator == ONE else _DIVIDE.divide(worth, denominator)

    def total_value(self, balances: Mapping[str, Balance], quote: str = "USD") -> tuple[Decimal, tuple[str, ...]]:
        """The sum of every balance total that can be valued, and the assets that could not (sorted), so
        the UI can say "total excludes X". An asset holding nothing is worth 0 with or without a price."""
        total, missing = ZERO, []
        for asset, balance in balances.items():
            if not balance.total:
                continue
            worth = self.value(asset, balance.total, quote)
            if worth is None:
                missing.append(asset)
            else:
                total = EXACT.add(total, worth)
        return total, tuple(sorted(missing))

    def _route(self, asset: str, quote: str) -> tuple[Decimal, Decimal] | None:
        """The rate as an exact fraction (numerator, denominator), so a value divides only once."""
        if asset == quote:
            return ONE, ONE
        if (asset, quote) not in self._paths:
            self._paths[asset, quote] = self._path(asset, quote)
        path = self._paths[asset, quote]
        if path is None:
            return None
        numerator, denominator = ONE, ONE
        for base, to in path:
            rate = self._pair_rate(base, to)
            assert rate is not None  # a path is made of known pairs, and a pair once known stays
            numerator, denominator = EXACT.multiply(numerator, rate[0]), EXACT.multiply(denominator, rate[1])
        return numerator, denominator

    def _path(self, asset: str, quote: str) -> tuple[tuple[str, str], ...] | None:
        """The direct pair (either way round), else the first bridge with pairs to both."""
        if self._pair_rate(asset, quote) is not None:
            return ((asset, quote),)
        for bridge in self._bridges(asset, quote):
            if self._pair_rate(asset, bridge) is not None and self._pair_rate(bridge, quote) is not None:
                return (asset, bridge), (bridge, quote)
        return None

    def _pair_rate(self, base: str, quote: str) -> tuple[Decimal, Decimal] | None:
        if (symbol := self._rates.get((base, quote))) is not None:
            return self._quotes[symbol].price, ONE
        if (symbol := self._rates.get((quote, base))) is not None:
            return ONE, self._quotes[symbol].price
        return None

    def _bridges(self, asset: str, quote: str) -> list[str]:
        known = {name for pair in self._rates for name in pair} - {asset, quote}
        return _ordered_bridges(known)


def symbols_for(assets: Iterable[str], quote: str = "USD", listed: Collection[str] | None = None) -> list[str]:
    """The WS v2 ticker symbols to subscribe so every asset can be valued in `quote`, without duplicates.

    Without `listed`: ASSET/QUOTE for each asset but the quote (the stream skips the ones Kraken refuses).
    With `listed` (Kraken's WS v2 symbols, e.g. "BTC/USD", not REST's legacy "XBT/USD" wsnames): the direct
    pair if listed, else the inverse pair, else two pairs through one bridge asset; an asset with no listed
    route is left out.
    """
    wanted: list[str] = []
    for asset in assets:
        if asset == quote:
            continue
        route = [f"{asset}/{quote}"] if listed is None else _listed_route(asset, quote, listed)
        wanted.extend(symbol for symbol in route if symbol not in wanted)
    return wanted


def _listed_route(asset: str, quote: str, listed: Collection[str]) -> list[str]:
    if (hop := _listed_pair(asset, quote, listed)) is not None:
        return [hop]
    names = set()
    for symbol in listed:
        try:
            names.update(split_symbol(symbol))
        except ValueError:
            continue
    for bridge in _ordered_bridges(names - {asset, quote}):
        first, second = _listed_pair(asset, bridge, listed), _listed_pair(bridge, quote, listed)
        if first is not None and second is not None:
            return [first, second]
    return []


def _listed_pair(base: str, quote: str, listed: Collection[str]) -> str | None:
    for symbol in (f"{base}/{quote}", f"{quote}/{base}"):
        if symbol in listed:
            return symbol
    return None


def _ordered_bridges(names: set[str]) -> list[str]:
    preferred = [name for name in PREFERRED_BRIDGES if name in names]
    return preferred + sorted(names - set(preferred))


def _mid(bid: Decimal | None, ask: Decimal | None) -> Decimal | None:
    if bid is None or ask is None:
        return None
    return EXACT.divide(EXACT.add(bid, ask), Decimal(2))  # halving a finite decimal is exact
