"""The one arithmetic context for money outside the store: sums, differences and products never round.

Python's default decimal context keeps 28 significant digits and rounds past them without a word, while one
Kraken amount may carry 48 (kraken.frames: 30 whole digits, 18 places): 10^20 - 10^-10 would come out as
10^20. Amounts are bounded, so a few hundred digits hold any sum or product of them exactly. Division is not
exact in any context; core.prices divides once, in its own context, to a stated precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import reduce

EXACT = Context(prec=400, rounding=ROUND_HALF_EVEN)
ZERO = Decimal(0)


def total(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of `values` (0 for none)."""
    return reduce(EXACT.add, values, ZERO)
