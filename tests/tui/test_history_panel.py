"""The history pane (6): one line per asset with its sparkline, trend arrow, rate per hour and volatility,
drawn from a View; rows are read and rendered again only for assets whose history changed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from balance_tui import view
from balance_tui.core.history import BalanceHistory, HistoryEntry, TrendAnalysis, TrendDirection
from balance_tui.tui import history_panel
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.history_panel import SPARK_WIDTH, HistoryPanel, spark
from balance_tui.tui.main_screen import MainScreen
from balance_tui.view import TREND_EVERY_S, AssetHistoryView, View
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.conftest import settled
from tests.tui.test_view import NOW, NoBackendApp


def entries(*totals: str) -> tuple[HistoryEntry, ...]:
    return tuple(HistoryEntry(NOW + timedelta(minutes=i), D(t), D(0), "ws") for i, t in enumerate(totals))


def fit(
    direction: TrendDirection, slope: str, volatility: str, span: timedelta = timedelta(minutes=5)
) -> TrendAnalysis:
    return TrendAnalysis(direction, D("0.9"), D(slope), D(volatility), samples=6, span=span)


def a_history() -> dict[str, AssetHistoryView]:
    return {
        "BTC": AssetHistoryView(
            "BTC", 6, entries("1", "2", "3", "4", "5", "6"), fit(TrendDirection.INCREASING, "0.5", "0.01")
        ),
        "ETH": AssetHistoryView(
            "ETH", 6, entries("6", "5", "4", "3", "2", "1"), fit(TrendDirection.DECREASING, "-2", "0.25")
        ),
        "USD": AssetHistoryView("USD", 6, entries(*["100"] * 6), fit(TrendDirection.STABLE, "0", "0")),
        "SOL": AssetHistoryView(  # six changes in twelve seconds: +1,800/h says nothing
            "SOL",
            6,
            entries("1", "2", "3", "4", "5", "6"),
            fit(TrendDirection.INCREASING, "1800", "0", timedelta(seconds=12)),
        ),
        "XRP": AssetHistoryView("XRP", 2, entries("7", "8")),
    }


def test_the_sparkline_is_right_aligned_scaled_and_bucketed() -> None:
    assert spark([], 4) == ""
    assert spark([D(1), D(2), D(3)], 4) == "▁▅█"
    assert spark([D(5)] * 3, 4) == "▁▁▁"  # nothing moved
    assert spark([D(i) for i in range(100)], 10) == "▁▂▃▃▄▅▆▆▇█"  # the highest of each bucket of 10
    assert len(spark([D(i % 3) for i in range(121)])) == SPARK_WIDTH


async def test_a_hand_built_view_draws_one_line_per_asset_with_its_arrow(monkeypatch) -> None:
    async with NoBackendApp().run_test(size=(120, 30)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        history = a_history()
        panel = screen.query_one(HistoryPanel)
        panel.display = True  # a short terminal hides it, and a hidden pane draws nothing
        screen.paint(View(now=NOW, history=history))
        await pilot.pause()
        lines = panel.text.splitlines()
        assert [line.split()[0] for line in lines] == ["BTC", "ETH", "USD", "SOL", "XRP"]
        assert [" ".join(line.split()[1:]) for line in lines] == [
            "▁▂▄▅▇█ ↑ +0.5/h ± 0.01",
            "█▇▅▄▂▁ ↓ -2/h ± 0.25",
            "▁▁▁▁▁▁ → +0/h ± 0",
            "▁▂▄▅▇█ · 6 changes over 12s",  # too short a time for a trend
            "▁█ · 2 changes",  # too few changes
        ]
        assert panel.border_title == "history" and "± volatility" in str(panel.border_subtitle)
        assert str(panel.border_subtitle).endswith("a trend needs 5 changes over 5\N{NO-BREAK SPACE}min")

        # Only the row that changed is rendered again; the same rows are not rendered at all.
        rendered: list[str] = []
        line = history_panel.history_line
        monkeypatch.setattr(history_panel, "history_line", lambda row: rendered.append(row.asset) or line(row))
        screen.paint(View(now=NOW, history={**history}))
        assert rendered == []
        xrp = AssetHistoryView("XRP", 3, entries("7", "8", "9"))
        screen.paint(View(now=NOW, history={**history, "XRP": xrp}))
        assert rendered == ["XRP"]
        assert panel.text.splitlines()[4].split()[1:4] == ["▁▅█", "·", "3"]


def test_the_view_reads_only_changed_assets_and_refits_at_most_every_few_seconds(monkeypatch) -> None:
    monkeypatch.setattr(view, "TREND_CHEAP", 6)  # fewer samples are refitted at every change
    clock = FrozenClock()
    engine = BalanceHistory(clock=clock)
    engine.record("BTC", D(0), D(0), "ws")
    engine.record("ETH", D(10), D(0), "ws")
    fresh = AssetHistoryView.read(engine, ["BTC", "ETH"], clock.monotonic(), {})
    assert fresh["BTC"].trend is None
    for minute in range(1, 6):
        clock.advance(60)
        engine.record("BTC", D(minute), D(0), "ws")
        engine.record("ETH", D(10), D(0), "ws")
    first = AssetHistoryView.read(engine, ["BTC", "ETH"], clock.monotonic(), fresh)  # at once: there was none
    assert first["BTC"].trend is not None and first["BTC"].trend.trend_direction is TrendDirection.INCREASING
    assert AssetHistoryView.read(engine, ["BTC", "ETH"], clock.monotonic(), first) is first  # nothing changed
    clock.advance(1)
    engine.record("BTC", D(6), D(0), "ws")
    second = AssetHistoryView.read(engine, ["BTC", "ETH"], clock.monotonic(), first)
    assert second["ETH"] is first["ETH"]
    assert len(second["BTC"].history) == 7 and second["BTC"].trend is first["BTC"].trend  # refit later
    clock.advance(TREND_EVERY_S)
    engine.record("BTC", D(7), D(0), "ws")
    third = AssetHistoryView.read(engine, ["BTC", "ETH"], clock.monotonic(), second)
    assert third["BTC"].trend is not None and third["BTC"].trend.samples == 8


async def test_6_shows_the_history_pane_on_the_real_app(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        panel = app.screen.query_one(HistoryPanel)
        assert not panel.display  # under 50 rows it is off by default
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        await pilot.press("6")
        await pilot.pause()
        assert panel.display
        assets = sorted(app.backend.simulator.account.totals())
        await eventually(lambda: [line.split()[0] for line in panel.text.splitlines()] == assets, what="every asset")
        await pilot.press("6")
        await pilot.pause()
        assert not panel.display
        await pilot.press("q")


async def test_the_history_pane_shows_by_default_on_a_tall_terminal(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.pause()
        assert app.screen.query_one(HistoryPanel).display
        await pilot.press("q")


def test_history_pane_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("6")
        await pilot.pause(0.3)

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(130, 40), run_before=run_before)


def test_history_pane_with_trends_snapshot(snap_compare) -> None:
    """A hand-built view: rising, falling, stable, each with its arrow, and two too short to say."""

    async def run_before(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.add_class("-show-history")
        pilot.app.screen.paint(View(now=NOW, history=a_history()))
        await pilot.pause()

    assert snap_compare(NoBackendApp(), terminal_size=(100, 24), run_before=run_before)


async def test_a_hidden_pane_draws_nothing_until_it_shows() -> None:
    async with NoBackendApp().run_test(size=(120, 30)) as pilot:  # short: the pane is hidden
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        panel = screen.query_one(HistoryPanel)
        view = View(now=NOW, history=a_history())
        screen.paint(view)
        assert not panel.display and panel.text == ""
        panel.display = True
        screen.paint(view)  # the same view: drawn now that it shows
        assert [line.split()[0] for line in panel.text.splitlines()] == list(a_history())
