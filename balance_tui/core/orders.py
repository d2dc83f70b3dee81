"""Open orders from the `executions` channel, and what they hold: the live source of "held".

A resting sell holds the unfilled base amount; a resting limit buy holds the unfilled amount times its
limit price, in the quote currency, rounded up to the quote's decimals order by order (Kraken reports held
amounts at each asset's precision; the per-order rounding is inferred, not documented). Market orders
fill at once and never rest, so they hold nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_UP, Decimal

from balance_tui.core.events import ExecutionReport, ExecutionsSnapshot, ExecutionsUpdate
from balance_tui.core.exact import EXACT
from balance_tui.core.model import ZERO

CLOSED = frozenset({"filled", "canceled", "expired"})


@dataclass(frozen=True, slots=True)
class OpenOrder:
    order_id: str
    base: str
    quote: str
    side: str
    order_qty: Decimal
    limit_price: Decimal | None
    filled: Decimal = ZERO

    def held(self, decimals: Mapping[str, int]) -> tuple[str, Decimal] | None:
        """(asset, amount) this order keeps from being traded, if it rests on the book."""
        remaining = EXACT.subtract(self.order_qty, self.filled)
        if remaining <= 0:
            return None
        if self.side == "sell":
            return self.base, remaining
        if self.limit_price is None:
            return None
        cost = EXACT.multiply(remaining, self.limit_price)
        places = decimals.get(self.quote)
        return self.quote, cost if places is None else cost.quantize(Decimal(1).scaleb(-places), ROUND_UP)


class OpenOrders:
    def __init__(self, decimals: Mapping[str, int] | None = None) -> None:
        self._orders: dict[str, OpenOrder] = {}
        self._decimals: Mapping[str, int] = decimals or {}  # per asset, from Kraken's Assets

    def __len__(self) -> int:
        return len(self._orders)

    def apply(self, event: ExecutionsSnapshot | ExecutionsUpdate) -> None:
        if isinstance(event, ExecutionsSnapshot):
            self._orders = {}
        for report in event.reports:
            self._apply(report)

    def listed(self) -> tuple[tuple[OpenOrder, tuple[str, Decimal] | None], ...]:
        """Every open order, first seen first, with the (asset, amount) it holds, if it holds anything."""
        return tuple((order, order.held(self._decimals)) for order in self._orders.values())

    def holds(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for order in self._orders.values():
            if (held := order.held(self._decimals)) is not None:
                totals[held[0]] = EXACT.add(totals.get(held[0], ZERO), held[1])
        return totals

    def _apply(self, report: ExecutionReport) -> None:
        if report.order_status in CLOSED or report.exec_type in CLOSED:
            self._orders.pop(report.order_id, None)
            return
        order = self._orders.get(report.order_id)
        if order is None:
            if report.symbol and report.side and report.order_qty is not None:
                base, _, quote = report.symbol.partition("/")
                order = OpenOrder(report.order_id, base, quote, report.side, report.order_qty, report.limit_price)
            else:
                return  # a status change for an order we never saw the terms of: nothing to hold
        if report.cum_qty is not None:
            order = replace(order, filled=report.cum_qty)
        elif report.exec_type == "trade" and report.last_qty is not None:
            order = replace(order, filled=EXACT.add(order.filled, report.last_qty))
        if report.order_qty is not None or report.limit_price is not None:  # amended or restated terms
            order = replace(
                order,
                order_qty=report.order_qty if report.order_qty is not None else order.order_qty,
                limit_price=report.limit_price if report.limit_price is not None else order.limit_price,
            )
        self._orders[order.order_id] = order
