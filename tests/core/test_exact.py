"""Money in the core adds up exactly past the default context's 28 digits: one Kraken amount may have 48."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, getcontext

from balance_tui.core.events import ExecutionReport, ExecutionsSnapshot, ExecutionsUpdate, HoldAmounts, WalletBalance
from balance_tui.core.exact import total
from balance_tui.core.model import Balance
from balance_tui.core.orders import OpenOrders

BIG = Decimal("100000000000000000000")  # 10^20: 21 digits
TINY = Decimal("0.000000000000000001")  # 10^-18
AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_the_default_context_would_round_these() -> None:
    assert getcontext().prec == 28 and BIG + TINY == BIG  # what the core must not do


def test_a_sum_of_amounts_is_exact() -> None:
    assert total([BIG, TINY]) == Decimal("100000000000000000000.000000000000000001")
    assert total([BIG, TINY, -BIG]) == TINY


def test_spot_and_free_are_exact() -> None:
    wallets = (WalletBalance("spot", "main", BIG), WalletBalance("spot", "x", TINY), WalletBalance("earn", "flex", BIG))
    hold = HoldAmounts(hold_trade=TINY, credit=Decimal("0.5"), credit_used=TINY * 2)
    balance = Balance("USD", total(w.balance for w in wallets), wallets, "rest", AT, hold)
    assert balance.spot == Decimal("100000000000000000000.000000000000000001")
    assert balance.free == Decimal("100000000000000000000.499999999999999998")


def test_what_open_orders_hold_is_exact() -> None:
    orders = OpenOrders()
    sell = ExecutionReport("A", "new", "new", "BTC/USD", "sell", BIG, None, cum_qty=Decimal(0))
    orders.apply(ExecutionsSnapshot((sell, ExecutionReport("B", "new", "new", "BTC/USD", "sell", TINY, None)), 1))
    assert orders.holds() == {"BTC": Decimal("100000000000000000000.000000000000000001")}
    orders.apply(ExecutionsUpdate((ExecutionReport("A", "trade", "partially_filled", last_qty=TINY),), 2))
    assert orders.holds() == {"BTC": BIG}  # 10^20 - 10^-18 held by A, 10^-18 by B
