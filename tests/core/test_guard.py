from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balance_tui.core.events import HoldAmounts, Source, WalletBalance
from balance_tui.core.guard import TradeDecision, TradeGuard
from balance_tui.core.model import Balance

D = Decimal
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GUARD = TradeGuard(minimums={"USD": D("10.00")})


def usd(spot: str, held: str = "0", at: datetime = T0) -> Balance:
    return Balance("USD", D(spot), (WalletBalance("spot", "main", D(spot)),), Source.WS, at, HoldAmounts(D(held)))


def test_an_order_within_limits_is_allowed_and_says_so() -> None:
    decision = GUARD.can_trade("USD", D(100), usd("600.00"), T0)
    assert decision == TradeDecision(
        allowed=True,
        reason="amount 100 USD is within 12.50 .. 480.00 USD (at most 80% of free 600.00)",
        asset="USD",
        amount=D(100),
        free=D("600.00"),
        minimum=D("12.50"),
        maximum=D("480.0000"),
        age=timedelta(0),
    )


@pytest.mark.parametrize(("amount", "allowed"), [("480.00", True), ("480.01", False)])
def test_the_position_cap_is_80_percent_of_free(amount: str, allowed: bool) -> None:
    assert GUARD.can_trade("USD", D(amount), usd("600.00"), T0).allowed is allowed


def test_over_the_cap_names_the_figures() -> None:
    decision = GUARD.can_trade("USD", D(500), usd("600.00"), T0)
    assert not decision.allowed
    assert decision.reason == "amount 500 USD is over 80% of free 600.00 USD (480.00)"


def test_the_cap_is_on_free_not_total() -> None:
    decision = GUARD.can_trade("USD", D(90), usd("1000", held="900"), T0)
    assert decision.reason == "amount 90 USD is over 80% of free 100 USD (80)"


def test_the_shown_cap_is_rounded_down() -> None:
    # 600.01 x 0.80 = 480.008: showing 480.01 would invite an order the guard refuses.
    decision = GUARD.can_trade("USD", D(481), usd("600.01"), T0)
    assert decision.reason == "amount 481 USD is over 80% of free 600.01 USD (480.00)"


@pytest.mark.parametrize(("amount", "allowed"), [("12.50", True), ("12.49", False)])
def test_the_minimum_is_the_exchange_minimum_plus_the_buffer(amount: str, allowed: bool) -> None:
    decision = GUARD.can_trade("USD", D(amount), usd("600"), T0)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == (
            "amount 12.49 USD is below the minimum 12.50 USD (exchange minimum 10.00 + safety buffer 2.50)"
        )


def test_every_failed_amount_check_is_named() -> None:
    decision = GUARD.can_trade("USD", D(12), usd("10"), T0)
    assert decision.reason == (
        "amount 12 USD is below the minimum 12.50 USD (exchange minimum 10.00 + safety buffer 2.50); "
        "amount 12 USD is over 80% of free 10 USD (8)"
    )


def test_an_asset_without_a_known_minimum_needs_the_buffer() -> None:
    eur = Balance("EUR", D(100), (WalletBalance("spot", "main", D(100)),), Source.WS, T0)
    assert not GUARD.can_trade("EUR", D("2.49"), eur, T0).allowed
    assert GUARD.can_trade("EUR", D("2.50"), eur, T0).allowed


@pytest.mark.parametrize(("age", "allowed"), [(30, True), (30.5, False)])
def test_the_balance_must_be_no_older_than_30_s(age: float, allowed: bool) -> None:
    decision = GUARD.can_trade("USD", D(100), usd("600"), T0 + timedelta(seconds=age))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == "USD balance is 30.5 s old; trading needs one no older than 30.0 s"


def test_no_balance_or_no_amount_is_denied() -> None:
    assert GUARD.can_trade("USD", D(100), None, T0).reason == "no USD balance known"
    assert GUARD.can_trade("USD", D(0), usd("600"), T0).reason == "amount must be positive, got 0 USD"


def test_the_balance_must_be_of_the_quote_asset() -> None:
    with pytest.raises(ValueError, match="asked about EUR with the USD balance"):
        GUARD.can_trade("EUR", D(100), usd("600"), T0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_position_share": D(0)},
        {"max_position_share": D("1.01")},
        {"safety_buffer": D(-1)},
        {"minimums": {"USD": D("5"), "BTC": D("-0.0001")}},
    ],
)
def test_nonsense_limits_are_refused(kwargs: dict[str, Decimal]) -> None:
    with pytest.raises(ValueError):
        TradeGuard(**kwargs)  # type: ignore[arg-type]
