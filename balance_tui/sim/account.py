"""The simulated exchange's ground truth: wallets, holds from open orders, and the activity that moves them.

A `DemoAccount` is fully determined by its seed: the starting balances, prices, open orders and every step
of activity come from one seeded RNG, so tests can replay a feed and compare it with the account exactly.
Spot balances never fall below what open orders hold, and no wallet ever goes negative.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Literal, NamedTuple

from balance_tui.core.events import LedgerEntry
from balance_tui.sim.assets import ASSETS, MAKER_FEE_PERCENT, PAIRS, TAKER_FEE_PERCENT, Asset, Pair
from balance_tui.sim.market import Market
from balance_tui.sim.seeded import fraction, kraken_id, uniform


class WalletKey(NamedTuple):
    """Where a balance sits: Kraken keys balances by asset, wallet type and wallet id."""

    asset: str  # WS v2 name
    type: str  # spot or earn
    id: str  # main (spot); bonded (earn)


def _spot(asset: str) -> WalletKey:
    return WalletKey(asset, "spot", "main")


_STAKED_DOT = WalletKey("DOT", "earn", "bonded")

# Starting balances before the per-seed jitter of +-20%.
_STARTING_BALANCES: dict[WalletKey, str] = {
    _spot("BTC"): "1.84732165",
    _spot("ETH"): "24.503812",
    _spot("USD"): "152340.1234",
    _spot("EUR"): "48210.55",
    _spot("USDT"): "25000",
    _spot("USDC"): "10000",
    _spot("SOL"): "310.25",
    _spot("DOT"): "1200",
    _STAKED_DOT: "2500",
    _spot("XRP"): "40000",
    _spot("LTC"): "120",
    _spot("DOGE"): "150000",
    _spot("ADA"): "30000",
}

# Resting limit orders as (symbol, side, volume, limit price relative to the market).
_OPEN_ORDERS: tuple[tuple[str, Literal["buy", "sell"], str, str], ...] = (
    ("BTC/USD", "sell", "0.25", "1.08"),
    ("ETH/USD", "buy", "4.5", "0.92"),
    ("SOL/USD", "sell", "40", "1.15"),
)

# Out of 100 draws per step; the rest are staking rewards. An activity that cannot happen (nothing
# affordable) becomes a deposit.
_TRADE_ODDS, _FUNDING_ODDS = 80, 15


@dataclass(frozen=True)
class OpenOrder:
    """A resting limit order; it holds its base (sell) or its cost in quote (buy) until it fills."""

    pair: Pair
    side: Literal["buy", "sell"]
    volume: Decimal
    price: Decimal

    @property
    def hold(self) -> tuple[str, Decimal]:
        """The asset this order holds, and how much."""
        if self.side == "sell":
            return self.pair.base.name, self.volume
        return self.pair.quote.name, self.pair.quote.quantize(self.volume * self.price, ROUND_UP)


def _resting_order(
    market: Market, pair: Pair, side: Literal["buy", "sell"], volume: Decimal, distance: Decimal
) -> OpenOrder:
    """A limit order priced `distance` times the current market, far enough away not to fill."""
    return OpenOrder(pair, side, volume, pair.quantize_price(market.price(pair) * distance))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DemoAccount:
    """A seeded account that trades, deposits, withdraws and earns staking rewards, one step at a time."""

    def __init__(self, seed: int, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._rng = random.Random(seed)
        self._clock = clock
        self.market = Market(self._rng)
        jitter = (Decimal("0.8"), Decimal("1.2"))
        self._wallets = {
            key: ASSETS[key.asset].quantize(Decimal(amount) * uniform(self._rng, *jitter))
            for key, amount in _STARTING_BALANCES.items()
        }
        self._starting_totals = self.totals()
        self.open_orders = tuple(
            _resting_order(self.market, PAIRS[symbol], side, Decimal(volume), Decimal(factor))
            for symbol, side, volume, factor in _OPEN_ORDERS
        )
        self._holds = {key.asset: ASSETS[key.asset].quantize(Decimal(0)) for key in self._wallets}
        for order in self.open_orders:
            asset, amount = order.hold
            self._holds[asset] += amount
            assert self._holds[asset] <= self._wallets[_spot(asset)], f"orders hold more {asset} than there is"

    def wallets(self) -> dict[WalletKey, Decimal]:
        """Every wallet's balance, at its asset's precision."""
        return dict(self._wallets)

    def totals(self) -> dict[str, Decimal]:
        """Each asset's balance summed across its wallets (what WS v2 reports as `balance`)."""
        totals: dict[str, Decimal] = {}
        for key, amount in self._wallets.items():
            totals[key.asset] = totals.get(key.asset, 0) + amount
        return totals

    def holds(self) -> dict[str, Decimal]:
        """Each asset's `hold_trade`: what open orders keep out of its spot wallet (zero for most)."""
        return dict(self._holds)

    def available(self, asset: str) -> Decimal:
        """What the spot wallet can spend: balance minus hold."""
        return self._wallets[_spot(asset)] - self._holds[asset]

    def step(self) -> list[LedgerEntry]:
        """Move prices, then perform one random activity; returns its ledger entries (two for a trade)."""
        self.market.walk()
        draw = self._rng.randrange(100)
        if draw < _TRADE_ODDS:
            entries = self._random_trade()
        elif draw < _TRADE_ODDS + _FUNDING_ODDS:
            entries = self._random_funding()
        else:
            entries = self._staking_reward()
        return entries or self._random_deposit()

    def deposit(self, asset: str, amount: Decimal) -> list[LedgerEntry]:
        """Credit a scripted deposit to the asset's spot wallet (for scenarios and tests)."""
        if _spot(asset) not in self._wallets:
            raise ValueError(f"the demo account has no {asset} wallet")
        if amount <= 0 or ASSETS[asset].quantize(amount) != amount:
            raise ValueError(f"a {asset} deposit must be positive, to at most {ASSETS[asset].decimals} decimals")
        ref_id = kraken_id(self._rng, "A", 8)
        return [self._post(_spot(asset), amount, Decimal(0), ref_id, "deposit", "deposit")]

    def _random_trade(self) -> list[LedgerEntry]:
        pair = self._rng.choice(tuple(PAIRS.values()))
        price = self.market.price(pair)
        fee_rate = self._rng.choice((TAKER_FEE_PERCENT, MAKER_FEE_PERCENT)) / 100
        notional = uniform(self._rng, Decimal(20), Decimal(4000))
        volume = pair.quantize_volume(notional / self.market.usd_price(pair.base.name))
        sides: tuple[Literal["buy", "sell"], ...] = ("buy", "sell")
        if self._leans_down(pair.base):
            sides = ("sell", "buy")
        for side in sides:
            fill = self._fit(pair, side, volume, price, fee_rate)
            if fill is not None:
                return self._trade(pair, side, *fill)
        return []

    def _leans_down(self, asset: Asset) -> bool:
        """A biased coin: the further an asset has grown past its starting total, the likelier it shrinks
        next (sold, withdrawn), so balances wander but never run off."""
        total, start = self.totals()[asset.name], self._starting_totals[asset.name]
        return fraction(self._rng) < total / (total + start)

    def _fit(
        self, pair: Pair, side: Literal["buy", "sell"], volume: Decimal, price: Decimal, fee_rate: Decimal
    ) -> tuple[Decimal, Decimal, Decimal] | None:
        """(volume, cost, fee) of a fill shrunk to what the spot wallet can pay, or None if it falls below
        the pair's minimums."""
        base, quote = pair.base, pair.quote
        if side == "sell":
            volume = min(volume, pair.quantize_volume(self.available(base.name)))
        else:
            affordable = self.available(quote.name) / (price * (1 + fee_rate))
            volume = min(volume, pair.quantize_volume(affordable))
        cost = quote.quantize(volume * price, ROUND_HALF_UP)
        fee = quote.quantize(cost * fee_rate, ROUND_HALF_UP)
        if volume < pair.ordermin or cost < pair.costmin:
            return None
        if side == "buy" and cost + fee > self.available(quote.name):
            return None
        return volume, cost, fee

    def _trade(
        self, pair: Pair, side: Literal["buy", "sell"], volume: Decimal, cost: Decimal, fee: Decimal
    ) -> list[LedgerEntry]:
        """Two legs under one trade id; the fee is charged in the quote currency, on the quote leg."""
        sign = 1 if side == "buy" else -1
        trade_id = kraken_id(self._rng, "T")
        timestamp = self._clock()
        base, quote = _spot(pair.base.name), _spot(pair.quote.name)
        return [
            self._post(base, sign * volume, Decimal(0), trade_id, "trade", "trade", timestamp),
            self._post(quote, -sign * cost, fee, trade_id, "trade", "trade", timestamp),
        ]

    def _random_funding(self) -> list[LedgerEntry]:
        asset = self._rng.choice(tuple(ASSETS.values()))
        if self._leans_down(asset):
            return self._withdrawal(asset)
        return self._deposit(asset)

    def _random_deposit(self) -> list[LedgerEntry]:
        return self._deposit(self._rng.choice(tuple(ASSETS.values())))

    def _deposit(self, asset: Asset) -> list[LedgerEntry]:
        return self.deposit(asset.name, self._round_figure(asset))

    def _withdrawal(self, asset: Asset) -> list[LedgerEntry]:
        fee = asset.withdrawal_fee
        amount = min(self._round_figure(asset), asset.quantize(self.available(asset.name) - fee))
        if amount <= 0:
            return []
        ref_id = kraken_id(self._rng, "A", 8)
        return [self._post(_spot(asset.name), -amount, fee, ref_id, "withdrawal", "withdrawal")]

    def _staking_reward(self) -> list[LedgerEntry]:
        rate = uniform(self._rng, Decimal("0.00002"), Decimal("0.0001"))
        amount = ASSETS[_STAKED_DOT.asset].quantize(self._wallets[_STAKED_DOT] * rate)
        ref_id = kraken_id(self._rng, "S", 7)
        return [self._post(_STAKED_DOT, amount, Decimal(0), ref_id, "staking", "staking-rewards")]

    def _round_figure(self, asset: Asset) -> Decimal:
        """A funding amount: $100 to $8,000 worth of the asset, cut to its display precision, as people
        send it."""
        usd = uniform(self._rng, Decimal(100), Decimal(8000))
        step = Decimal(1).scaleb(-asset.display_decimals)
        return (usd / self.market.usd_price(asset.name)).quantize(step, rounding=ROUND_DOWN)

    def _post(
        self,
        wallet: WalletKey,
        amount: Decimal,
        fee: Decimal,
        ref_id: str,
        kind: str,
        category: str,
        timestamp: datetime | None = None,
    ) -> LedgerEntry:
        """Apply `amount - fee` to one wallet and record it as a ledger entry."""
        after = self._wallets[wallet] + amount - fee
        floor = self._holds[wallet.asset] if wallet.type == "spot" else 0
        assert after >= floor, f"{wallet} would fall to {after}, below {floor}"
        self._wallets[wallet] = after
        return LedgerEntry(
            ledger_id=kraken_id(self._rng, "L"),
            ref_id=ref_id,
            timestamp=self._clock() if timestamp is None else timestamp,
            type=kind,
            category=category,
            asset=wallet.asset,
            wallet_type=wallet.type,
            wallet_id=wallet.id,
            amount=amount,
            fee=fee,
            balance=self.totals()[wallet.asset],
        )
