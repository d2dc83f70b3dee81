from datetime import timedelta
from decimal import Decimal

import pytest

from balance_tui.core.history import TrendAnalysis, TrendDirection
from balance_tui.tui.formatting import age, amount, no_trend_yet, signed


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("12345678.1234567891", "12,345,678.1234567891"),
        ("0E-8", "0.00000000"),
        ("-1500.5", "-1,500.5"),
        ("0.0100000000", "0.0100000000"),
        ("1E+2", "100"),
    ],
)
def test_amounts_keep_every_digit_and_never_use_exponents(value: str, shown: str) -> None:
    assert amount(Decimal(value)) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"), [(None, "-"), (-1, "0s"), (0, "0s"), (59.9, "59s"), (60, "1m"), (7200, "2h"), (172800, "2d")]
)
def test_ages_are_short(seconds: float | None, shown: str) -> None:
    assert age(None if seconds is None else timedelta(seconds=seconds)) == shown


@pytest.mark.parametrize(("seconds", "shown"), [(9.9, "0s"), (10, "10s"), (59, "50s"), (61, "1m"), (3600, "1h")])
def test_ages_in_steps_change_only_at_each_step(seconds: float, shown: str) -> None:
    assert age(timedelta(seconds=seconds), step=10) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [("0.5", "+0.5"), ("-400", "-400"), ("0.0", "0"), ("0E-10", "0"), ("-0.00", "0")]
)
def test_a_move_has_its_sign_and_no_move_reads_zero(value: str, shown: str) -> None:
    assert signed(Decimal(value)) == shown


def test_no_trend_yet_says_what_there_is_and_what_a_trend_waits_for() -> None:
    def fit(samples: int, span: timedelta) -> TrendAnalysis:
        return TrendAnalysis(TrendDirection.INCREASING, Decimal(1), Decimal(1800), Decimal(0), samples, span)

    five_min = "5\N{NO-BREAK SPACE}min"  # never split over two lines
    assert no_trend_yet(1, None) == f"1 change; a trend needs 5 changes over {five_min}"
    assert no_trend_yet(6, fit(6, timedelta(seconds=12))) == f"6 changes over 12s; a trend needs {five_min}"
    assert no_trend_yet(3, fit(3, timedelta(hours=2))) == "3 changes over 2h; a trend needs 5 changes"
    both = f"2 changes over 40s; a trend needs 5 changes over {five_min}"
    assert no_trend_yet(2, fit(2, timedelta(seconds=40))) == both
