"""PriceBook valuations checked against hand-computed values: direct, inverse, bridged, the quote itself."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from balance_tui.core.events import Source, WalletBalance
from balance_tui.core.model import Balance
from balance_tui.core.prices import PriceBook, symbols_for
from tests.conftest import FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def book(clock: FrozenClock) -> PriceBook:
    book = PriceBook(clock)
    book.update("BTC/USD", last=D("60000.5"))
    book.update("ETH/BTC", last=D("0.05"))
    book.update("USD/JPY", last=D("150"))  # only the inverse way to JPY
    book.update("EUR/USD", last=D("1.08"))
    book.update("XRP/EUR", last=D("0.5"))
    return book


def balance(asset: str, total: str) -> Balance:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Balance(asset, D(total), (WalletBalance("spot", "main", D(total)),), Source.WS, at)


def test_direct_pair_is_amount_times_last(book: PriceBook) -> None:
    assert book.value("BTC", D("0.5")) == D("30000.25")


def test_the_quote_asset_is_worth_one(book: PriceBook) -> None:
    assert book.value("USD", D("12.3456")) == D("12.3456")
    assert book.value("BTC", D("2"), quote="BTC") == D("2")


def test_inverse_pair_divides(book: PriceBook) -> None:
    assert book.value("JPY", D("300")) == D("2")  # 300 / 150
    # 1 / 60000.5 to 40 significant digits (half-even), then an exact product.
    assert book.value("USD", D("10"), quote="BTC") == D("0.0001666652777893517554020383163473637719686")


def test_bridge_through_one_asset(book: PriceBook) -> None:
    assert book.value("ETH", D("2")) == D("6000.05")  # 2 * 0.05 * 60000.5
    assert book.value("XRP", D("100")) == D("54")  # 100 * 0.5 * 1.08
    assert book.value("EUR", D("10"), quote="JPY") == D("1620")  # 10 * 1.08 * 150


def test_no_route_is_none(book: PriceBook) -> None:
    assert book.value("DOGE", D("1000")) is None
    assert book.value("ETH", D("1"), quote="GBP") is None


def test_products_are_exact_beyond_the_default_28_digits(clock: FrozenClock) -> None:
    book = PriceBook(clock)
    book.update("BTC/USD", last=D("12345678901234.567890123"))
    amount = D("1.000000000000000001")  # price + price * 1e-18, by hand:
    assert book.value("BTC", amount) == D("12345678901234.567902468678901234567890123")


def test_mid_when_last_is_missing_and_seen_at_from_the_clock(clock: FrozenClock) -> None:
    book = PriceBook(clock)
    assert book.update("SOL/USD", bid=D("150.01"), ask=D("150.04")) == D("150.025")
    seen = clock.now()
    clock.advance(5)
    assert book.update("SOL/USD") is None and book.update("SOL/USD", bid=D("1")) is None  # nothing to take
    quote = book.quote("SOL/USD")
    assert quote is not None and quote.price == D("150.025") and quote.seen_at == seen
    book.update("SOL/USD", last=D("151"), bid=D("1"), ask=D("2"))
    assert book.price("SOL/USD") == D("151") and book.quote("SOL/USD").seen_at == clock.now()


def test_total_value_sums_what_it_can_and_names_what_it_cannot(book: PriceBook) -> None:
    balances = {
        "USD": balance("USD", "100.5"),
        "BTC": balance("BTC", "0.1"),
        "ETH": balance("ETH", "1"),
        "DOGE": balance("DOGE", "5000"),
        "ADA": balance("ADA", "0"),  # nothing held: no price needed
        "DOT": balance("DOT", "3"),
    }
    total, missing = book.total_value(balances, "USD")
    assert total == D("100.5") + D("6000.05") + D("3000.025")
    assert missing == ("DOGE", "DOT")


def test_symbols_for_without_a_listing_asks_for_every_direct_pair() -> None:
    assert symbols_for(["BTC", "USD", "ETH", "BTC"], "USD") == ["BTC/USD", "ETH/USD"]


def test_symbols_for_with_a_listing_uses_direct_inverse_or_one_bridge() -> None:
    listed = {"BTC/USD", "ETH/BTC", "USD/JPY", "XRP/EUR", "EUR/USD", "SOL/USD"}
    got = symbols_for(["BTC", "ETH", "JPY", "XRP", "DOGE", "USD"], "USD", listed)
    assert got == ["BTC/USD", "ETH/BTC", "USD/JPY", "XRP/EUR", "EUR/USD"]  # DOGE: no route, left out
