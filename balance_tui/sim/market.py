"""Prices for the demo account: one USD reference price per asset, random-walking from realistic levels.

Every pair's price derives from the two reference prices, so cross pairs (ETH/BTC) stay consistent with the
USD pairs however long the walk runs.
"""

import random
from decimal import Decimal

from balance_tui.sim.assets import Pair
from balance_tui.sim.seeded import uniform

_PRECISION = Decimal("1e-12")

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
