from decimal import Decimal

from balance_tui.core.events import ExecutionReport, ExecutionsSnapshot, ExecutionsUpdate
from balance_tui.core.orders import OpenOrders

D = Decimal


def resting(order_id: str, symbol: str, side: str, qty: str, price: str | None, filled: str = "0") -> ExecutionReport:
    return ExecutionReport(
        order_id,
        "new",
        "new",
        symbol,
        side,
        D(qty),
        None if price is None else D(price),
        cum_qty=D(filled),
    )


def test_a_sell_holds_the_base_and_a_limit_buy_the_quote() -> None:
    orders = OpenOrders()
    orders.apply(
        ExecutionsSnapshot(
            (
                resting("A", "BTC/USD", "sell", "0.25", "70000"),
                resting("B", "ETH/USD", "buy", "2", "3000.50", filled="0.5"),
                resting("C", "BTC/USD", "sell", "0.1", "71000"),
            ),
            1,
        )
    )
    assert orders.holds() == {"BTC": D("0.35"), "USD": D("4500.750")}


def test_fills_reduce_the_hold_and_closed_orders_release_it() -> None:
    orders = OpenOrders()
    orders.apply(ExecutionsSnapshot((resting("A", "BTC/USD", "sell", "1", "70000"),), 1))
    orders.apply(ExecutionsUpdate((ExecutionReport("A", "trade", "partially_filled", last_qty=D("0.4")),), 2))
    assert orders.holds() == {"BTC": D("0.6")}
    orders.apply(ExecutionsUpdate((ExecutionReport("A", "canceled", "canceled"),), 3))
    assert orders.holds() == {} and len(orders) == 0


def test_new_orders_market_orders_and_unknown_ids() -> None:
    orders = OpenOrders()
    orders.apply(ExecutionsSnapshot((), 1))
    pending = ExecutionReport("M", "pending_new", "pending_new", "BTC/USD", "buy", D("0.1"))  # a market buy
    limit = ExecutionReport("L", "pending_new", "pending_new", "SOL/USD", "buy", D("10"), D("150"))
    orders.apply(ExecutionsUpdate((pending, limit), 2))
    orders.apply(ExecutionsUpdate((ExecutionReport("Z", "new", "new"),), 3))  # terms never seen: ignored
    assert orders.holds() == {"USD": D("1500")}
    orders.apply(ExecutionsUpdate((ExecutionReport("L", "amended", "new", order_qty=D("4")),), 4))
    assert orders.holds() == {"USD": D("600")}
    orders.apply(ExecutionsSnapshot((), 5))  # a snapshot replaces everything
    assert orders.holds() == {}


def test_a_buy_holds_its_cost_rounded_up_to_the_quotes_decimals() -> None:
    orders = OpenOrders({"USD": 4})
    orders.apply(ExecutionsSnapshot((resting("B", "ETH/USD", "buy", "0.27291695", "3476.01"),), 1))
    assert orders.holds() == {"USD": D("948.6621")}  # 948.66204...: Kraken reports 4 places, rounded up
