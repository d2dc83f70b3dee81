"""The simulated exchange's ground truth: wallets, the orders that hold part of them, and the activity that
moves both.

A `DemoAccount` is fully determined by its seed: the starting balances, prices, open orders and every step
of activity come from one seeded RNG, so tests can replay a feed and compare it with the account exactly.
Only its ids (ledger, order, trade, funding) also depend on the instant it starts, by its clock: Kraken never
reuses an id, and a rerun of the seed on the same store must not repeat the first run's.
What open orders hold is derived from the open orders themselves, so REST `hold_trade` and the executions
channel can never disagree. Spot balances never fall below what open orders hold, and no wallet ever goes
negative. The account does not hold every listed asset at the start: as on Kraken, a wallet opens with its
first credit (a deposit, a buy) and holds zero until then.
"""

import random
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import cached_property
from typing import Literal, NamedTuple, Self

from balance_tui.core.events import LedgerEntry
from balance_tui.sim.assets import (
    ASSETS,
    MAKER_FEE_PERCENT,
    TAKER_FEE_PERCENT,
    TRADED_PAIRS,
    Asset,
    Pair,
    dormant_assets,
)
from balance_tui.sim.market import Market
from balance_tui.sim.seeded import KrakenIds, fraction, uniform

Side = Literal["buy", "sell"]
ExecType = Literal["pending_new", "new", "trade", "filled", "canceled"]


class WalletKey(NamedTuple):
    """Where a balance sits: Kraken keys balances by asset, wallet type and wallet id."""

    asset: str  # WS v2 name
    type: str  # spot or earn
    id: str  # main (spot); bonded (earn)


def _spot(asset: str) -> WalletKey:
    return WalletKey(asset, "spot", "main")


_STAKED_DOT = WalletKey("DOT", "earn", "bonded")

# Starting balances before the per-seed jitter of +-20%. Listed assets missing here (LINK) start with no wallet.
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

# Resting limit orders at the start as (symbol, side, volume, limit price relative to the market).
_OPEN_ORDERS: tuple[tuple[str, Side, str, str], ...] = (
    ("BTC/USD", "sell", "0.25", "1.08"),
    ("ETH/USD", "buy", "4.5", "0.92"),
    ("SOL/USD", "sell", "40", "1.15"),
)

# Out of 100 draws per step: market orders, resting orders placed, orders cancelled, deposits and
# withdrawals; the rest are staking rewards. A step in which nothing can happen becomes a deposit.
_MARKET_ODDS, _PLACE_ODDS, _CANCEL_ODDS, _FUNDING_ODDS = 55, 15, 10, 15
_MAX_OPEN_ORDERS = 8
_RECENT_FILLS = 50  # what the executions snapshot offers with snap_trades


@dataclass(frozen=True)
class Order:
    """An order the account placed. A limit order rests until the market crosses its price or it is
    cancelled, holding its base (sell) or its cost in quote (buy) meanwhile; a market order fills at once."""

    order_id: str
    pair: Pair
    side: Side
    volume: Decimal
    limit_price: Decimal | None  # None for a market order
    placed: datetime

    @cached_property
    def hold(self) -> tuple[str, Decimal]:
        """The asset this resting order holds, and how much: the volume of a sell, the cost (volume times
        limit price, rounded up to the quote's precision) of a buy. Fees are paid from what is free."""
        assert self.limit_price is not None, "a market order never rests"
        if self.side == "sell":
            return self.pair.base.name, self.volume
        return self.pair.quote.name, self.pair.quote.quantize(self.volume * self.limit_price, ROUND_UP)


@dataclass(frozen=True)
class Fill:
    """One trade of an order. Its two ledger entries carry `exec_id` as their ref_id."""

    exec_id: str
    trade_id: int  # the pair's public trade number
    volume: Decimal
    price: Decimal
    cost: Decimal  # in quote
    fee: Decimal  # in quote
    fee_usd: Decimal
    maker: bool


@dataclass(frozen=True)
class Execution:
    """One execution report: what happened to an order, and when (`fill` for trade and filled)."""

    exec_type: ExecType
    order: Order
    timestamp: datetime
    fill: Fill | None = None


@dataclass(frozen=True)
class Activity:
    """What one step did: ledger entries (balances channel) and execution reports (executions channel)."""

    ledger: tuple[LedgerEntry, ...] = ()
    executions: tuple[Execution, ...] = ()

    def __add__(self, other: Self) -> Self:
        return type(self)(self.ledger + other.ledger, self.executions + other.executions)

    def __bool__(self) -> bool:
        return bool(self.ledger or self.executions)


_MAKER_FEE, _TAKER_FEE = MAKER_FEE_PERCENT / 100, TAKER_FEE_PERCENT / 100


def _cost_and_fee(pair: Pair, volume: Decimal, price: Decimal, *, maker: bool) -> tuple[Decimal, Decimal]:
    """A fill's cost and fee in quote: resting orders pay the maker fee, market orders the taker fee."""
    cost = pair.quote.quantize(volume * price, ROUND_HALF_UP)
    return cost, pair.quote.quantize(cost * (_MAKER_FEE if maker else _TAKER_FEE), ROUND_HALF_UP)


def _placed(order: Order) -> Activity:
    """The reports of an order accepted, then live."""
    return Activity(executions=(Execution("pending_new", order, order.placed), Execution("new", order, order.placed)))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _check_scripted(assets: Mapping[str, Asset], asset: str, amount: Decimal, kind: str) -> None:
    """A scripted deposit or withdrawal names an asset the account can hold (a listed one or one of its dormant
    ones) and a positive amount at its precision."""
    if asset not in assets:
        raise ValueError(f"the simulator lists no asset {asset!r} (WS v2 names: {', '.join(ASSETS)})")
    if amount <= 0 or assets[asset].quantize(amount) != amount:
        raise ValueError(f"a {asset} {kind} must be positive, to at most {assets[asset].decimals} decimals")


class DemoAccount:
    """A seeded account that trades, rests and cancels orders, deposits, withdraws and earns staking
    rewards, one step at a time. It may also hold `dormant` assets that never move (D00001, ...), as an
    account with thousands of assets would; `assets` is every asset it can hold, those included."""

    def __init__(self, seed: int, *, clock: Callable[[], datetime] = _utc_now, dormant: int = 0) -> None:
        self._rng = random.Random(seed)
        self._clock = clock
        self._ids = KrakenIds(self._rng, run=f"{seed}@{clock().isoformat()}")  # a rerun of the seed, new ids
        self.market = Market(self._rng)
        jitter = (Decimal("0.8"), Decimal("1.2"))
        self._wallets = {
            key: ASSETS[key.asset].quantize(Decimal(amount) * uniform(self._rng, *jitter))
            for key, amount in _STARTING_BALANCES.items()
        }
        # Dormant assets (the many-assets fault) draw on their own RNG: the seed's activity stays the same.
        self.assets: dict[str, Asset] = ASSETS | dormant_assets(dormant)
        dust = random.Random(f"dormant-{seed}")
        for asset in self.assets.values():
            if asset.name not in ASSETS:
                self._wallets[_spot(asset.name)] = asset.quantize(uniform(dust, Decimal("0.0001"), Decimal(1000)))
        self._usual_totals = self.totals()
        self._trade_ids = {symbol: 1_000_000 + self._rng.randrange(50_000_000) for symbol in TRADED_PAIRS}
        self._orders: dict[str, Order] = {}
        self._fills: deque[Execution] = deque(maxlen=_RECENT_FILLS)
        for symbol, side, volume, factor in _OPEN_ORDERS:
            pair = TRADED_PAIRS[symbol]
            price = pair.quantize_price(self.market.price(pair) * Decimal(factor))
            order = self._new_order(pair, side, pair.quantize_volume(Decimal(volume)), price)
            self._orders[order.order_id] = order
        for asset in self.holds():
            assert self.available(asset) >= 0, f"orders hold more {asset} than there is"

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
        return {key.asset: self._held(key.asset) for key in self._wallets}

    def available(self, asset: str) -> Decimal:
        """What the spot wallet can spend: balance minus hold."""
        return self._balance(_spot(asset)) - self._held(asset)

    def _balance(self, wallet: WalletKey) -> Decimal:
        """A wallet's balance; one not opened yet holds zero (at its asset's precision, which it keeps)."""
        return self._wallets.get(wallet, self.assets[wallet.asset].quantize(Decimal(0)))

    def _held(self, asset: str) -> Decimal:
        held = self.assets[asset].quantize(Decimal(0))
        for order in self._orders.values():
            holds, amount = order.hold
            if holds == asset:
                held += amount
        return held

    @property
    def open_orders(self) -> tuple[Order, ...]:
        """The resting orders, oldest first."""
        return tuple(self._orders.values())

    @property
    def recent_fills(self) -> tuple[Execution, ...]:
        """The last trades (up to 50), newest first, as the executions snapshot lists them."""
        return tuple(self._fills)

    def step(self, *, untouched: Collection[str] = ()) -> Activity:
        """Move prices, fill the resting orders the market crossed, then perform one random activity.

        Assets in `untouched` are left alone: no pair, order or funding that involves them is picked."""
        self.market.walk()
        untouched = frozenset(untouched)
        pairs = [pair for pair in TRADED_PAIRS.values() if untouched.isdisjoint((pair.base.name, pair.quote.name))]
        assets = [asset for asset in ASSETS.values() if asset.name not in untouched]
        activity = self._fill_crossed_orders(pairs)
        draw = self._rng.randrange(100)
        if draw < _MARKET_ODDS:
            activity += self._market_order(self._rng.choice(pairs))
        elif draw < _MARKET_ODDS + _PLACE_ODDS:
            activity += self._place_order(self._rng.choice(pairs))
        elif draw < _MARKET_ODDS + _PLACE_ODDS + _CANCEL_ODDS:
            activity += self._cancel_order(pairs)
        elif draw < _MARKET_ODDS + _PLACE_ODDS + _CANCEL_ODDS + _FUNDING_ODDS:
            activity += Activity(tuple(self.fund(self._rng.choice(assets).name)))
        elif _STAKED_DOT.asset not in untouched:
            activity += Activity(tuple(self._staking_reward()))
        return activity or Activity(tuple(self._deposit(self._rng.choice(assets))))

    def deposit(self, asset: str, amount: Decimal) -> list[LedgerEntry]:
        """Credit a scripted deposit to the asset's spot wallet, opening it if the account never held the asset
        (for scenarios and tests)."""
        _check_scripted(self.assets, asset, amount, "deposit")
        return self._funding(asset, amount, Decimal(0), "deposit")

    def withdraw(self, asset: str, amount: Decimal) -> list[LedgerEntry]:
        """Debit a scripted withdrawal from the asset's spot wallet (for scenarios and tests). Fee-free, unlike
        the account's own withdrawals, so a scenario can empty a wallet exactly."""
        _check_scripted(self.assets, asset, amount, "withdrawal")
        if amount > (available := self.available(asset)):
            raise ValueError(f"cannot withdraw {amount:f} {asset}: {available:f} is available (balance minus hold)")
        return self._funding(asset, -amount, Decimal(0), "withdrawal")

    def fund(self, asset: str) -> list[LedgerEntry]:
        """One deposit or withdrawal of `asset`; withdrawals grow likelier the more it has grown."""
        listed = ASSETS[asset]
        if self._leans_down(listed) and (withdrawal := self._withdrawal(listed)):
            return withdrawal
        return self._deposit(listed)

    def _fill_crossed_orders(self, pairs: Collection[Pair]) -> Activity:
        """Fill, at their limit price, the resting orders the market has reached."""
        activity = Activity()
        for order in self.open_orders:
            assert order.limit_price is not None
            if order.pair not in pairs:
                continue
            price = self.market.price(order.pair)
            if (price <= order.limit_price) if order.side == "buy" else (price >= order.limit_price):
                activity += self._fill_resting(order)
        return activity

    def _fill_resting(self, order: Order) -> Activity:
        """A maker fill of the whole order at its limit price. A buy pays its fee from what is free besides
        its hold; while that falls short, the order keeps resting."""
        price = order.limit_price
        assert price is not None
        if order.side == "buy":
            cost, fee = _cost_and_fee(order.pair, order.volume, price, maker=True)
            if cost + fee > self.available(order.pair.quote.name) + order.hold[1]:
                return Activity()
        del self._orders[order.order_id]
        return self._execute(order, price, maker=True)

    def _market_order(self, pair: Pair) -> Activity:
        """A market order sized to what the wallets can pay, filled at once as taker: pending_new, new,
        trade, filled."""
        price = self.market.price(pair)
        notional = uniform(self._rng, Decimal(20), Decimal(4000))
        volume = pair.quantize_volume(notional / self.market.usd_price(pair.base.name))
        sides: tuple[Side, ...] = ("buy", "sell")
        if self._leans_down(pair.base):
            sides = ("sell", "buy")
        for side in sides:
            fitted = self._fit(pair, side, volume, price)
            if fitted is not None:
                order = self._new_order(pair, side, fitted, None)
                return _placed(order) + self._execute(order, price, maker=False)
        return Activity()

    def _place_order(self, pair: Pair) -> Activity:
        """A limit order priced a little away from the market, sized to what the wallets can hold."""
        if len(self._orders) >= _MAX_OPEN_ORDERS:
            return Activity()
        side: Side = "sell" if self._leans_down(pair.base) else "buy"
        distance = uniform(self._rng, Decimal("0.003"), Decimal("0.025"))
        price = pair.quantize_price(self.market.price(pair) * (1 - distance if side == "buy" else 1 + distance))
        notional = uniform(self._rng, Decimal(50), Decimal(3000))
        volume = pair.quantize_volume(notional / self.market.usd_price(pair.base.name))
        if side == "sell":
            volume = min(volume, pair.quantize_volume(self.available(pair.base.name)))
        else:
            volume = min(volume, pair.quantize_volume(self.available(pair.quote.name) / price))
        order = self._new_order(pair, side, volume, price)
        asset, held = order.hold
        if volume < pair.ordermin or volume * price < pair.costmin or held > self.available(asset):
            return Activity()
        self._orders[order.order_id] = order
        return _placed(order)

    def _cancel_order(self, pairs: Collection[Pair]) -> Activity:
        candidates = [order for order in self._orders.values() if order.pair in pairs]
        if not candidates:
            return Activity()
        order = self._rng.choice(candidates)
        del self._orders[order.order_id]
        return Activity(executions=(Execution("canceled", order, self._clock()),))

    def _new_order(self, pair: Pair, side: Side, volume: Decimal, limit_price: Decimal | None) -> Order:
        return Order(self._ids("O"), pair, side, volume, limit_price, self._clock())

    def _execute(self, order: Order, price: Decimal, *, maker: bool) -> Activity:
        """Fill the whole order: two ledger legs under one trade id, the fee charged in quote on the quote
        leg, and the trade and filled reports."""
        pair = order.pair
        cost, fee = _cost_and_fee(pair, order.volume, price, maker=maker)
        self._trade_ids[pair.symbol] += 1 + self._rng.randrange(200)  # other people trade too
        exec_id = self._ids("T")
        fee_usd = ASSETS["USD"].quantize(fee * self.market.usd_price(pair.quote.name), ROUND_HALF_UP)
        fill = Fill(exec_id, self._trade_ids[pair.symbol], order.volume, price, cost, fee, fee_usd, maker)
        sign = 1 if order.side == "buy" else -1
        timestamp = self._clock()
        ledger = (
            self._post(_spot(pair.base.name), sign * order.volume, Decimal(0), exec_id, "trade", "trade", timestamp),
            self._post(_spot(pair.quote.name), -sign * cost, fee, exec_id, "trade", "trade", timestamp),
        )
        trade = Execution("trade", order, timestamp, fill)
        self._fills.appendleft(trade)
        return Activity(ledger, (trade, Execution("filled", order, timestamp, fill)))

    def _leans_down(self, asset: Asset) -> bool:
        """A biased coin: the further an asset has grown past its usual total, the likelier it shrinks next
        (sold, withdrawn), so balances wander but never run off. The usual total is the starting one, or for
        an asset the account started without, the first it came to hold; until then it only grows."""
        total, usual = self.totals().get(asset.name, 0), self._usual_totals.get(asset.name)
        return usual is not None and fraction(self._rng) < total / (total + usual)

    def _fit(self, pair: Pair, side: Side, volume: Decimal, price: Decimal) -> Decimal | None:
        """A market order's volume shrunk to what the spot wallet can pay, taker fee included, or None if it
        falls below the pair's minimums."""
        base, quote = pair.base, pair.quote
        if side == "sell":
            volume = min(volume, pair.quantize_volume(self.available(base.name)))
        else:
            affordable = self.available(quote.name) / (price * (1 + _TAKER_FEE))
            volume = min(volume, pair.quantize_volume(affordable))
        cost, fee = _cost_and_fee(pair, volume, price, maker=False)
        if volume < pair.ordermin or cost < pair.costmin:
            return None
        if side == "buy" and cost + fee > self.available(quote.name):
            return None
        return volume

    def _deposit(self, asset: Asset) -> list[LedgerEntry]:
        return self.deposit(asset.name, self._round_figure(asset))

    def _withdrawal(self, asset: Asset) -> list[LedgerEntry]:
        fee = asset.withdrawal_fee
        amount = min(self._round_figure(asset), asset.quantize(self.available(asset.name) - fee))
        if amount <= 0:
            return []
        return self._funding(asset.name, -amount, fee, "withdrawal")

    def _funding(self, asset: str, amount: Decimal, fee: Decimal, kind: str) -> list[LedgerEntry]:
        """A deposit (amount > 0) or withdrawal (amount < 0) on the asset's spot wallet."""
        ref_id = self._ids("A", 8)
        return [self._post(_spot(asset), amount, fee, ref_id, kind, kind)]

    def _staking_reward(self) -> list[LedgerEntry]:
        rate = uniform(self._rng, Decimal("0.00002"), Decimal("0.0001"))
        amount = ASSETS[_STAKED_DOT.asset].quantize(self._balance(_STAKED_DOT) * rate)
        ref_id = self._ids("S", 7)
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
        """Apply `amount - fee` to one wallet, opening it if need be, and record it as a ledger entry."""
        after = self._balance(wallet) + amount - fee
        floor = self._held(wallet.asset) if wallet.type == "spot" else 0
        assert after >= floor, f"{wallet} would fall to {after}, below {floor}"
        self._wallets[wallet] = after
        if after:
            self._usual_totals.setdefault(wallet.asset, after)
        return LedgerEntry(
            ledger_id=self._ids("L"),
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
