"""What an operator might type into an adjustment, at its worst: shared by the fuzz tests of the console's
adjust form and of `balance-tui adjust`, with the one rule both must follow for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import example

from balance_tui.kraken.assets import asset_code
from balance_tui.store import books
from balance_tui.store.errors import InvalidInput
from balance_tui.store.money import AmountError, parse_amount

NUL = "\x00"
ARABIC_INDIC, FULLWIDTH = "\u0661\u0662\u0663", "\uff11\uff12"  # digits Decimal() reads as 123 and 12
AMOUNTS = [
    "1e400", "NaN", "Infinity", "-Infinity", "-0", ARABIC_INDIC, FULLWIDTH, "0." + "1" * 30, "1" * 30,
    "1" + NUL, "1_000", " 1.5e3", "0x10", "+", ".", "",
]  # fmt: skip
TEXT = ["US" + NUL + "D", ARABIC_INDIC, "   ", "", "x" * 100_000, "a" + NUL + "b", "line\nbreak", "\t"]
# (asset, amount, reason, set_to): the first is a control that every entry point must write.
ADJUSTMENTS = [
    ("usd", "12.5", "counted by hand", False),
    ("US" + NUL + "D", "1", "counted by hand", False),
    ("USD", "1e400", "x", False),
    ("USD", "NaN", "x", True),
    ("USD", "Infinity", "x", False),
    ("USD", "-0", "x", False),
    ("USD", "-0", "emptied", True),
    ("USD", ARABIC_INDIC, "x", False),
    ("USD", FULLWIDTH, "x", True),
    ("USD", "0." + "1" * 30, "x", False),
    ("USD", "1", "x" * 100_000, False),
    ("USD", "1", "a" + NUL + "b", False),
    (ARABIC_INDIC, "1", "x", False),
    ("BTC", "0.12345678901", "more places than BTC has", False),
    ("USD", "-99999999", "below zero", False),
]

Test = TypeVar("Test", bound=Callable[..., Any])


def with_examples(adjustments: list[tuple[str, str, str, bool]]) -> Callable[[Test], Test]:
    """Each adjustment as an explicit hypothesis example of a test taking asset, amount, reason and set_to."""

    def decorate(test: Test) -> Test:
        for asset, amount, reason, set_to in reversed(adjustments):
            test = example(asset=asset, amount=amount, reason=reason, set_to=set_to)(test)
        return test

    return decorate


def refused_whatever_the_books_hold(asset: str, amount: str, reason: str) -> bool:
    """Not an amount, not an asset name, or no usable reason: refused before the books are even asked.
    `amount` is the text as the entry point hands it to `parse_amount`."""
    try:
        parse_amount(amount)
        books.require_asset(asset_code(asset))
        books.require_reason(reason)
    except (AmountError, InvalidInput):
        return True
    return False


def written_whatever_the_books_hold(asset: str, amount: str, reason: str, set_to: bool) -> bool:
    """What no rule refuses, whatever happened before: a positive delta of at most two places to a listed
    asset that keeps at least that many, with a reason."""
    if set_to or refused_whatever_the_books_hold(asset, amount, reason):
        return False
    typed = parse_amount(amount)
    places = -typed.as_tuple().exponent  # type: ignore[operator]
    return asset_code(asset) in ("USD", "BTC", "ETH", "EUR") and typed > 0 and places <= 2
