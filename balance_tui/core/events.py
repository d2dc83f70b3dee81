"""What the wire layer tells the engine: typed, exact (Decimal) and already normalised.

`kraken` produces these from WebSocket frames and REST replies; the engine never sees JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple


class Source(StrEnum):
    """Where a figure came from, shown beside it: the feed, a REST read, the cache, or the store."""

    WS = "ws"
    REST = "rest"
    CACHE = "cache"
    STORE = "store"


class WalletBalance(NamedTuple):
    """A NamedTuple: one is built per update (see `Balance`)."""

    type: str  # "spot" or "earn"
    id: str  # "main", "bonded", "flex", ...
    balance: Decimal


@dataclass(frozen=True, slots=True)
class AssetSnapshot:
    asset: str
    balance: Decimal  # total across wallets
    wallets: tuple[WalletBalance, ...]


@dataclass(frozen=True, slots=True)
class BalancesSnapshot:
    """Every asset held, replacing whatever was known before."""

    assets: tuple[AssetSnapshot, ...]
    sequence: int
    source: Source = Source.WS


class LedgerEntry(NamedTuple):
    """One completed ledger transaction: the wallet moves by `amount - fee`, and `balance` is the asset's
    total across all wallets afterwards, as Kraken's update frames report it. A NamedTuple: one is built
    per update, and a frozen dataclass sets each of its twelve fields through `object.__setattr__`."""

    ledger_id: str
    ref_id: str
    timestamp: datetime
    type: str
    asset: str
    wallet_type: str
    wallet_id: str
    amount: Decimal
    fee: Decimal
    balance: Decimal
    category: str = ""
    subtype: str = ""


class BalancesUpdate(NamedTuple):
    """A NamedTuple, like `LedgerEntry`: one per update frame."""

    entries: tuple[LedgerEntry, ...]
    sequence: int
    source: Source = Source.WS


@dataclass(frozen=True, slots=True)
class HoldAmounts:
    """Per-asset amounts from REST `BalanceEx`: what open orders hold, plus credit lines."""

    hold_trade: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    credit_used: Decimal = Decimal(0)


NO_HOLD = HoldAmounts()


@dataclass(frozen=True, slots=True)
class HoldsSnapshot:
    holds: dict[str, HoldAmounts]
    source: Source = Source.REST


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One order event from the `executions` channel; most fields arrive only on some event types."""

    order_id: str
    exec_type: str  # pending_new, new, trade, filled, canceled, expired, amended, restated, ...
    order_status: str = ""
    symbol: str = ""  # BTC/USD
    side: str = ""  # buy or sell
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    cum_qty: Decimal | None = None
    last_qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ExecutionsSnapshot:
    """Every open order, replacing whatever was known before."""

    reports: tuple[ExecutionReport, ...]
    sequence: int


@dataclass(frozen=True, slots=True)
class ExecutionsUpdate:
    reports: tuple[ExecutionReport, ...]
    sequence: int


BalanceEvent = BalancesSnapshot | BalancesUpdate | HoldsSnapshot | ExecutionsSnapshot | ExecutionsUpdate
