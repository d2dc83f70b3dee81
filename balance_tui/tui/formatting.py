"""How figures read on screen: amounts exact (never through float), ages short."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from balance_tui.core.history import MIN_TREND_SAMPLES, MIN_TREND_SPAN, TrendAnalysis

TREND_SPAN = f"{MIN_TREND_SPAN // timedelta(minutes=1)}\N{NO-BREAK SPACE}min"  # kept on one line
TREND_NEEDS = f"a trend needs {MIN_TREND_SAMPLES} changes over {TREND_SPAN}"  # what `TrendAnalysis.stated` asks


def amount(value: Decimal) -> str:
    """Every digit Kraken sent, grouped in thousands: 12,345,678.1234567891."""
    return f"{value:,f}"


def signed(value: Decimal) -> str:
    """An amount that moved a balance: exact, with its sign either way (+0.5, -400); no move reads 0, not 0.0000."""
    if not value:
        return "0"
    return f"+{amount(value)}" if value > 0 else amount(value)


def rate(value: Decimal, *, sign: bool = False) -> str:
    """At most 8 places and no exponent: a trend is a rate, not a balance to read to the last digit."""
    text = amount(value.quantize(Decimal("1e-8")).normalize())
    return f"+{text}" if sign and value >= 0 else text


def trend_text(trend: TrendAnalysis) -> str:
    """The fitted line as one phrase: direction, slope per hour, R² and volatility."""
    return (
        f"{trend.trend_direction.value} {rate(trend.slope_per_hour, sign=True)}/h  "
        f"R² {trend.trend_strength:.2f}  volatility {rate(trend.volatility)}"
    )


def no_trend_yet(changes: int, trend: TrendAnalysis | None) -> str:
    """What there is while no trend is stated (`TrendAnalysis.stated`), and what a trend still needs:
    "6 changes over 12s; a trend needs 5 min" (or "needs 5 changes", or "needs 5 changes over 5 min")."""
    samples, span = (0, timedelta(0)) if trend is None else (trend.samples, trend.span)
    needs = []
    if samples < MIN_TREND_SAMPLES:
        needs.append(f"{MIN_TREND_SAMPLES} changes")
    if span < MIN_TREND_SPAN:
        needs.append(TREND_SPAN)
    return f"{changes_so_far(changes, trend)}; a trend needs {' over '.join(needs)}"


def changes_so_far(changes: int, trend: TrendAnalysis | None) -> str:
    """How many changes there are and the time they span: "6 changes over 12s", "1 change"."""
    span = timedelta(0) if trend is None else trend.span
    over = f" over {age(span)}" if span >= timedelta(seconds=1) else ""  # not "over 0s"
    return f"{changes} change{'' if changes == 1 else 's'}{over}"


def age(delta: timedelta | None, *, step: int = 1) -> str:
    """Whole units, rounded down: 59s, 1m (60 to 119 s), 23h, 9d; under a minute in steps of `step` seconds
    (10: 0s, 10s, ... 50s), for a column that should not change every second."""
    if delta is None:
        return "-"
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds // step * step}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
