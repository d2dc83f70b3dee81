from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balance_tui.core.history import MIN_TREND_SPAN, BalanceHistory, EntryKind, TrendAnalysis, TrendDirection
from tests.conftest import FrozenClock

D = Decimal
H3 = timedelta(hours=3)


def make(**kwargs: object) -> tuple[BalanceHistory, FrozenClock]:
    clock = FrozenClock()
    return BalanceHistory(clock=clock, **kwargs), clock  # type: ignore[arg-type]


def hourly(history: BalanceHistory, clock: FrozenClock, *points: tuple[float, str]) -> None:
    """Record `(hour, total)` points, moving the clock to each hour first (hours count from the start)."""
    start = clock.now()
    for hour, total in points:
        clock.advance((start + timedelta(hours=hour) - clock.now()).total_seconds())
        history.record("BTC", D(total), D(0), "ws")


def test_history_is_oldest_first_and_limit_takes_the_latest() -> None:
    history, clock = make()
    hourly(history, clock, (0, "1"), (1, "2"), (2, "3"))
    assert [e.total for e in history.get_asset_history("BTC")] == [1, 2, 3]
    assert [e.total for e in history.get_asset_history("BTC", limit=2)] == [2, 3]
    assert history.get_asset_history("BTC", limit=0) == ()
    assert history.get_asset_history("ETH") == ()


def test_an_entry_recorded_late_is_placed_in_time_order() -> None:
    history, clock = make()
    history.record("BTC", D(2), D(0), "ws")
    history.record("BTC", D(1), D(0), "rest", at=clock.now() - timedelta(minutes=5))
    assert [(e.total, e.source) for e in history.get_asset_history("BTC")] == [(1, "rest"), (2, "ws")]


def test_entries_are_bounded_per_asset_dropping_the_oldest() -> None:
    history, clock = make(max_entries_per_asset=3)
    hourly(history, clock, (0, "1"), (1, "2"), (2, "3"), (3, "4"))
    history.record("ETH", D(9), D(0), "ws")
    assert [e.total for e in history.get_asset_history("BTC")] == [2, 3, 4]
    assert len(history.get_asset_history("ETH")) == 1


def test_entries_older_than_the_retention_are_dropped() -> None:
    history, clock = make(retention=timedelta(hours=24))
    history.record("BTC", D(1), D(0), "ws")
    assert history.record("BTC", D(5), D(0), "ws", at=clock.now() - timedelta(hours=24, seconds=1)) is False
    clock.advance(24 * 3600)
    assert len(history.get_asset_history("BTC")) == 1
    clock.advance(1)
    assert history.get_asset_history("BTC") == ()


def test_record_says_whether_the_change_is_significant() -> None:
    history, _ = make(change_threshold=D("0.01"))
    assert history.record("BTC", D(100), D(0), "ws") is False  # nothing to compare with
    assert history.record("BTC", D("100.99"), D(0), "ws") is False  # moved 0.99, under 1% of 100
    assert history.record("BTC", D("99.9801"), D(0), "ws") is True  # moved 1.0099, exactly 1% of 100.99
    assert history.record("BTC", D("100.9798"), D(0), "ws") is False  # moved 0.9997, under 0.999801
    assert history.record("USD", D(0), D(0), "ws") is False
    assert history.record("USD", D(0), D(0), "ws") is False
    assert history.record("USD", D("0.01"), D(0), "ws") is True  # any move away from zero


@pytest.mark.parametrize(
    ("kind", "flow"),
    [
        (EntryKind.SAMPLE, D(1)),
        (EntryKind.DEPOSIT, D(-1)),
        (EntryKind.DEPOSIT, D(0)),
        (EntryKind.WITHDRAWAL, D(1)),
        (EntryKind.ADJUSTMENT, D(0)),
    ],
)
def test_a_flow_must_have_its_kinds_sign(kind: EntryKind, flow: Decimal) -> None:
    history, _ = make()
    with pytest.raises(ValueError, match=f"a {kind} entry needs"):
        history.record("BTC", D(1), D(0), "ws", kind=kind, flow=flow)


def test_a_steadily_rising_balance_reads_increasing() -> None:
    history, clock = make()
    hourly(history, clock, (0, "100"), (1, "102"), (2, "104"), (3, "106"))
    assert history.analyze_balance_trend("BTC") == TrendAnalysis(TrendDirection.INCREASING, D(1), D(2), D(0), 4, H3)


def test_a_steadily_falling_balance_reads_decreasing() -> None:
    history, clock = make()
    hourly(history, clock, (0, "106"), (1, "104"), (2, "102"), (3, "100"))
    assert history.analyze_balance_trend("BTC") == TrendAnalysis(TrendDirection.DECREASING, D(1), D(-2), D(0), 4, H3)


def test_the_slope_is_against_time_not_sample_index() -> None:
    # Per index this would be +2 a sample; per hour it is exactly +1.
    history, clock = make()
    hourly(history, clock, (0, "100"), (1, "101"), (4, "104"))
    trend = history.analyze_balance_trend("BTC")
    assert trend is not None
    assert (trend.slope_per_hour, trend.trend_strength) == (D(1), D(1))


def test_slope_strength_and_volatility_of_a_noisy_series() -> None:
    # x = 0..3 h, y = 1, 3, 2, 4: Sxx = 5, Sxy = 4, Syy = 5 -> slope 0.8, R^2 = 16/25;
    # line 1.3 + 0.8x, residuals -0.3, 0.9, -0.9, 0.3 -> RMS sqrt(1.8 / 4).
    history, clock = make()
    hourly(history, clock, (0, "1"), (1, "3"), (2, "2"), (3, "4"))
    assert history.analyze_balance_trend("BTC") == TrendAnalysis(
        TrendDirection.INCREASING, D("0.64"), D("0.8"), D("0.45").sqrt(), 4, H3
    )


def test_a_deposit_step_is_not_a_trend() -> None:
    history, clock = make()
    history.record("BTC", D(100), D(0), "ws")
    clock.advance(3600)
    history.record("BTC", D(100), D(0), "ws")
    clock.advance(3600)
    history.record("BTC", D(150), D(0), "ws", kind=EntryKind.DEPOSIT, flow=D(50))
    clock.advance(3600)
    history.record("BTC", D(150), D(0), "ws")
    assert history.analyze_balance_trend("BTC") == TrendAnalysis(TrendDirection.STABLE, D(0), D(0), D(0), 4, H3)


def test_the_same_step_unmarked_reads_as_a_rise() -> None:
    history, clock = make()
    hourly(history, clock, (0, "100"), (1, "100"), (2, "150"), (3, "150"))
    trend = history.analyze_balance_trend("BTC")
    assert trend is not None
    assert trend.trend_direction is TrendDirection.INCREASING


def test_a_withdrawal_leaves_the_trading_trend_visible() -> None:
    # Trading adds 1 an hour; the withdrawal of 50 at hour 2 is taken out: adjusted 100, 101, 102, 103.
    history, clock = make()
    history.record("BTC", D(100), D(0), "ws")
    clock.advance(3600)
    history.record("BTC", D(101), D(0), "ws")
    clock.advance(3600)
    history.record("BTC", D(52), D(0), "ws", kind=EntryKind.WITHDRAWAL, flow=D(-50))
    clock.advance(3600)
    history.record("BTC", D(53), D(0), "ws")
    assert history.analyze_balance_trend("BTC") == TrendAnalysis(TrendDirection.INCREASING, D(1), D(1), D(0), 4, H3)


@pytest.mark.parametrize(("end", "direction"), [("1000.5", TrendDirection.STABLE), ("1002", TrendDirection.INCREASING)])
def test_stable_means_a_slope_small_against_the_mean(end: str, direction: TrendDirection) -> None:
    # Threshold 0.1% of the mean an hour: ~1.0003 for 1000 -> 1000.5, ~1.001 for 1000 -> 1002.
    history, clock = make(stable_threshold=D("0.001"))
    hourly(history, clock, (0, "1000"), (1, end))
    trend = history.analyze_balance_trend("BTC")
    assert trend is not None
    assert trend.trend_direction is direction


def test_the_analysis_window_excludes_older_samples() -> None:
    history, clock = make()
    hourly(history, clock, (0, "500"), (10, "100"), (11, "101"), (12, "102"))
    trend = history.analyze_balance_trend("BTC", analysis_hours=2)
    assert trend is not None
    assert (trend.samples, trend.slope_per_hour) == (3, D(1))


def test_no_trend_without_two_distinct_times() -> None:
    history, clock = make()
    assert history.analyze_balance_trend("BTC") is None
    history.record("BTC", D(1), D(0), "ws")
    history.record("BTC", D(2), D(0), "ws")
    assert history.analyze_balance_trend("BTC") is None
    clock.advance(60)
    history.record("BTC", D(3), D(0), "ws")
    assert history.analyze_balance_trend("BTC") is not None


record_op = st.tuples(
    st.just("record"),
    st.integers(min_value=-7200, max_value=0),  # seconds before now
    st.integers(min_value=0, max_value=100),
)
wait_op = st.tuples(st.just("wait"), st.integers(min_value=0, max_value=1800), st.just(0))


@given(st.lists(st.one_of(record_op, wait_op), max_size=60))
def test_history_stays_ordered_bounded_and_within_retention(ops: list[tuple[str, int, int]]) -> None:
    history, clock = make(max_entries_per_asset=5, retention=timedelta(hours=1))
    for kind, seconds, total in ops:
        if kind == "wait":
            clock.advance(seconds)
        else:
            history.record("BTC", D(total), D(0), "ws", at=clock.now() + timedelta(seconds=seconds))
        times = [e.at for e in history.get_asset_history("BTC")]
        assert times == sorted(times)
        assert len(times) <= 5
        assert all(at >= clock.now() - timedelta(hours=1) for at in times)


def test_the_revision_changes_with_every_entry_added_or_dropped_and_only_then() -> None:
    history, clock = make(retention=timedelta(hours=2))
    assert history.revision("BTC") == 0
    hourly(history, clock, (0, "1"), (1, "2"))
    seen = history.revision("BTC")
    history.get_asset_history("BTC")
    history.analyze_balance_trend("BTC")
    assert history.revision("BTC") == seen  # reading is not a change
    history.record("ETH", D(5), D(0), "ws")
    assert history.revision("BTC") == seen  # nor is another asset's
    clock.advance(3600 * 1.5)  # the first entry ages out
    assert history.revision("BTC") != seen
    assert [e.total for e in history.get_asset_history("BTC")] == [2]


def seconds_apart(history: BalanceHistory, clock: FrozenClock, seconds: float, *totals: str) -> None:
    for total in totals:
        history.record("BTC", D(total), D(0), "ws")
        clock.advance(seconds)


def test_a_fit_over_seconds_is_made_but_not_stated() -> None:
    # Ten changes 1.2 s apart rising by 1: a slope of 3,000 an hour (to 27 places), read from 10.8 s of data.
    history, clock = make()
    seconds_apart(history, clock, 1.2, *(str(100 + i) for i in range(10)))
    trend = history.analyze_balance_trend("BTC")
    assert trend is not None and trend.samples == 10
    assert trend.span == timedelta(seconds=10.8) and round(trend.slope_per_hour) == 3000
    assert not trend.stated


def test_a_fit_is_stated_once_it_spans_the_minimum() -> None:
    history, clock = make()
    step = MIN_TREND_SPAN.total_seconds() / 4
    seconds_apart(history, clock, step - 1, "100", "101", "102", "103", "104")
    short = history.analyze_balance_trend("BTC")
    assert short is not None and short.samples == 5 and short.span < MIN_TREND_SPAN and not short.stated
    history, clock = make()
    seconds_apart(history, clock, step, "100", "101", "102", "103", "104")
    trend = history.analyze_balance_trend("BTC")
    assert trend is not None and trend.span == MIN_TREND_SPAN and trend.stated


def test_a_long_span_of_too_few_changes_is_not_stated() -> None:
    history, clock = make()
    hourly(history, clock, (0, "100"), (1, "102"), (2, "104"), (3, "106"))
    trend = history.analyze_balance_trend("BTC")
    assert trend is not None and trend.span == H3 and trend.samples == 4 and not trend.stated


def exact_fit(history: BalanceHistory) -> tuple[Fraction, Fraction] | None:
    """Slope per hour and R² of the least-squares line, in exact fractions, from the entries as they stand."""
    entries = history.get_asset_history("BTC")
    if len({e.at for e in entries}) < 2:
        return None
    start, flows, points = entries[0].at, Fraction(0), []
    for e in entries:
        flows += Fraction(e.flow)
        points.append((Fraction((e.at - start) // timedelta(microseconds=1), 3_600_000_000), Fraction(e.total) - flows))
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    syy = sum((y - my) ** 2 for _, y in points)
    return sxy / sxx, (sxy * sxy / (sxx * syy) if syy else Fraction(0))


deposit_op = st.tuples(
    st.just("deposit"), st.integers(min_value=-600, max_value=0), st.integers(min_value=1, max_value=50)
)


@given(st.lists(st.one_of(record_op, wait_op, deposit_op), max_size=40))
def test_a_trend_kept_up_as_entries_come_and_go_is_the_exact_fit_of_those_kept(ops: list[tuple[str, int, int]]) -> None:
    # Fitted after every step, so the sums are carried along through appends, late inserts, flows and drops.
    history, clock = make(max_entries_per_asset=6, retention=timedelta(hours=1))
    total = 0
    for kind, seconds, amount in ops:
        if kind == "wait":
            clock.advance(seconds)
        else:
            flow = amount if kind == "deposit" else 0
            total = total + flow if kind == "deposit" else amount
            history.record(
                "BTC",
                D(total) + D("0.000000000000000001"),  # 18 places: nothing may be rounded away
                D(0),
                "ws",
                at=clock.now() + timedelta(seconds=seconds),
                kind=EntryKind.DEPOSIT if flow else EntryKind.SAMPLE,
                flow=D(flow),
            )
        trend, exact = history.analyze_balance_trend("BTC"), exact_fit(history)
        assert (trend is None) == (exact is None)
        if trend is not None and exact is not None:
            slope, strength = exact
            assert abs(Fraction(trend.slope_per_hour) - slope) <= abs(slope) * Fraction(1, 10**25)
            assert abs(Fraction(trend.trend_strength) - strength) <= Fraction(1, 10**25)
            assert trend.samples == len(history.get_asset_history("BTC"))


same_written = st.sampled_from([D("0"), D("0E-8"), D("1.5"), D("1.50000000")])  # equal pairs, written apart


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["record", "deposit", "wait"]),
            st.integers(min_value=-900, max_value=0),
            st.integers(min_value=0, max_value=10**12),
            st.integers(min_value=0, max_value=10),  # places of the total
            same_written,
        ),
        max_size=50,
    )
)
def test_entries_kept_compact_read_back_as_they_were_recorded(ops: list[tuple[str, int, int, int, Decimal]]) -> None:
    # The same steps into a history that keeps every entry whole and one that keeps only the newest two whole.
    whole, clock = make(max_entries_per_asset=8, retention=timedelta(hours=1), recent=100)
    compact = BalanceHistory(clock=clock, max_entries_per_asset=8, retention=timedelta(hours=1), recent=2)
    for kind, seconds, units, places, held in ops:
        if kind == "wait":
            clock.advance(-seconds * 4)
            continue
        args = ("BTC", D(units).scaleb(-places), held, "ws")
        options: dict[str, object] = {"at": clock.now() + timedelta(seconds=seconds)}
        if kind == "deposit":
            options |= {"kind": EntryKind.DEPOSIT, "flow": D(units % 50 + 1).scaleb(-places)}
        assert whole.record(*args, **options) == compact.record(*args, **options)  # type: ignore[arg-type]
        expected, got = whole.get_asset_history("BTC"), compact.get_asset_history("BTC")
        assert got == expected
        assert [(str(e.total), str(e.held), str(e.flow), e.at.tzinfo) for e in got] == [
            (str(e.total), str(e.held), str(e.flow), e.at.tzinfo) for e in expected
        ]
        assert compact.get_asset_history("BTC", limit=3) == expected[-3:]
        assert compact.revision("BTC") == whole.revision("BTC")
        assert compact.analyze_balance_trend("BTC") == whole.analyze_balance_trend("BTC")
        assert compact.analyze_balance_trend("BTC", analysis_hours=0.1) == whole.analyze_balance_trend(
            "BTC", analysis_hours=0.1
        )
