"""The pre-trade guard: may the bot spend `amount` of a quote asset now, and if not, why not.

A pure evaluation of (balance, amount, now): the manager reads a fresh balance first when the one it has is
too old, so the guard never does I/O and every decision can be tested and explained from its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from balance_tui.core.exact import EXACT
from balance_tui.core.model import ZERO, Balance


@dataclass(frozen=True, slots=True)
class TradeDecision:
    allowed: bool
    reason: str  # human, naming the figures; every failed check, joined by "; "
    asset: str
    amount: Decimal
    free: Decimal | None = None  # None when no usable balance was known
    minimum: Decimal | None = None  # exchange minimum + safety buffer
    maximum: Decimal | None = None  # the share of free the order may take
    age: timedelta | None = None  # of the balance judged


class TradeGuard:
    """Orders must clear the exchange minimum by a buffer, take at most a share of FREE balance, and be
    judged on data no older than `max_age`."""

    def __init__(
        self,
        *,
        minimums: Mapping[str, Decimal] | None = None,
        safety_buffer: Decimal = Decimal("2.50"),
        max_position_share: Decimal = Decimal("0.80"),
        max_age: timedelta = timedelta(seconds=30),
    ) -> None:
        if not 0 < max_position_share <= 1:
            raise ValueError(f"max_position_share must be in (0, 1], got {max_position_share}")
        if safety_buffer < 0:
            raise ValueError(f"safety_buffer must not be negative, got {safety_buffer}")
        for asset, minimum in (minimums or {}).items():
            if minimum < 0:
                raise ValueError(f"the minimum for {asset} must not be negative, got {minimum}")
        self.minimums: Mapping[str, Decimal] = minimums or {}  # per quote asset; unknown assets: 0
        self.safety_buffer = safety_buffer
        self.max_position_share = max_position_share
        self.max_age = max_age

    def can_trade(self, quote_asset: str, amount: Decimal, balance: Balance | None, now: datetime) -> TradeDecision:
        """Judge an order costing `amount` of `quote_asset`, given that asset's balance as last read."""
        if balance is not None and balance.asset != quote_asset:
            raise ValueError(f"asked about {quote_asset} with the {balance.asset} balance")
        if amount <= 0:
            return TradeDecision(False, f"amount must be positive, got {amount:f} {quote_asset}", quote_asset, amount)
        if balance is None:
            return TradeDecision(False, f"no {quote_asset} balance known", quote_asset, amount)
        age = now - balance.updated_at
        if age > self.max_age:
            reason = (
                f"{quote_asset} balance is {age.total_seconds():.1f} s old; "
                f"trading needs one no older than {self.max_age.total_seconds():.1f} s"
            )
            return TradeDecision(False, reason, quote_asset, amount, age=age)

        exchange_minimum = self.minimums.get(quote_asset, ZERO)
        minimum = EXACT.add(exchange_minimum, self.safety_buffer)
        free = balance.free
        maximum = EXACT.multiply(free, self.max_position_share)
        shown_max, share = _like(maximum, free), f"{(self.max_position_share * 100).normalize():f}%"
        problems = []
        if amount < minimum:
            problems.append(
                f"amount {amount:f} {quote_asset} is below the minimum {minimum:f} {quote_asset} "
                f"(exchange minimum {exchange_minimum:f} + safety buffer {self.safety_buffer:f})"
            )
        if amount > maximum:
            problems.append(
                f"amount {amount:f} {quote_asset} is over {share} of free {free:f} {quote_asset} ({shown_max})"
            )
        reason = "; ".join(problems) or (
            f"amount {amount:f} {quote_asset} is within {minimum:f} .. {shown_max} {quote_asset} "
            f"(at most {share} of free {free:f})"
        )
        return TradeDecision(not problems, reason, quote_asset, amount, free, minimum, maximum, age)


def _like(value: Decimal, pattern: Decimal) -> str:
    """`value` to the decimal places `pattern` shows, rounded down so a shown cap is never above the real one."""
    exponent = pattern.as_tuple().exponent
    places = min(exponent, 0) if isinstance(exponent, int) else 0
    return f"{value.quantize(Decimal(1).scaleb(places), rounding=ROUND_DOWN):f}"
