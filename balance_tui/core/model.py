"""One asset's balance as the console shows it: exact amounts, where they came from, and when."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from balance_tui.core.events import NO_HOLD, HoldAmounts, Source, WalletBalance
from balance_tui.core.exact import EXACT, total

ZERO = Decimal(0)


class Balance(NamedTuple):
    """Immutable, so a reader never sees a half-applied change and diffs are plain comparisons.

    A NamedTuple rather than a frozen dataclass: one is built per update, and this builds several
    times faster.
    """

    asset: str
    total: Decimal
    wallets: tuple[WalletBalance, ...]
    source: Source
    updated_at: datetime
    hold: HoldAmounts = NO_HOLD
    hold_source: Source | None = None

    @property
    def held(self) -> Decimal:
        return self.hold.hold_trade

    @property
    def spot(self) -> Decimal:
        return total(w.balance for w in self.wallets if w.type == "spot")

    @property
    def free(self) -> Decimal:
        """Tradable now, as Kraken's `available`: earn wallets and open-order holds are excluded."""
        hold = self.hold
        return EXACT.subtract(EXACT.add(self.spot, hold.credit), EXACT.add(hold.credit_used, hold.hold_trade))
