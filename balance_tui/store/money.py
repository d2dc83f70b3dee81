"""Exact money: the one strict parser for typed amounts, the canonical text form, and rounding by rule.

Amounts are `Decimal` end to end. What an operator types is parsed by `parse_amount` only, which accepts
plain ASCII decimals and nothing `Decimal()` would also take (NaN, exponents, underscores, spaces, other
scripts' digits). What the store holds fits NUMERIC(38, 18) (`canonical` refuses the rest), so its sums and
products never round in core's `EXACT` context; rounding happens only where a rule says so (`quantize_to`).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

from balance_tui.core.exact import EXACT

INTEGER_DIGITS = 20  # NUMERIC(38, 18): what both backends hold exactly
PLACES = 18
_AMOUNT = re.compile(rf"[+-]?[0-9]{{1,{INTEGER_DIGITS}}}(?:\.[0-9]{{1,{PLACES}}})?")


class AmountError(ValueError):
    """Typed text that is not an amount; the message says what an amount looks like."""


def parse_amount(text: str) -> Decimal:
    """An exact Decimal from operator input like `12.34` or `-0.5`, or `AmountError` naming the problem."""
    if not _AMOUNT.fullmatch(text):
        raise AmountError(
            f"{text!r} is not an amount: expected digits with an optional sign and '.', like 12.34 or -0.5 "
            f"(at most {INTEGER_DIGITS} digits before the point and {PLACES} after; no spaces, exponents, "
            "separators, NaN or Infinity)"
        )
    return Decimal(text)


def places(value: Decimal) -> int:
    """Decimal places a finite value needs: `1.50` needs 1, `100` needs 0."""
    _, digits, exponent = value.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return 0
    return max(0, -(int(exponent) + len(digits) - len(significant)))


def canonical(value: Decimal) -> str:
    """The one text form of an amount: fixed point, no exponent, no trailing zeros, no `-0`.

    Raises ValueError for anything that does not fit NUMERIC(38, 18) exactly, so SQLite refuses what
    PostgreSQL would refuse or round.
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"an amount must be a finite Decimal, got {value!r}")
    if value.is_zero():
        return "0"
    # adjusted() is the exponent of the first digit: checked before format() writes out every zero.
    text = format(value, "f") if -PLACES <= value.adjusted() < INTEGER_DIGITS else ""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if not text or len(text.partition(".")[2]) > PLACES:
        raise ValueError(
            f"amount {value} does not fit: at most {INTEGER_DIGITS} digits before the point and {PLACES} after"
        )
    return text


def quantize_to(value: Decimal, decimals: int) -> Decimal:
    """Round half-even to an asset's places: for computed figures (P&L, cost), never for typed input."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN, context=EXACT)
