"""The seam between the engine and the screen: a View built by hand is drawn with no backend at all, and
what happened between two views is announced once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

from textual.app import App
from textual.reactive import var
from textual.widgets import Sparkline, Static

from balance_tui.core import Balance, FeedState
from balance_tui.core.breaker import BreakerState
from balance_tui.core.events import Source, WalletBalance
from balance_tui.core.health import BlindChange
from balance_tui.core.history import HistoryEntry
from balance_tui.core.validator import Rule, Severity, ValidationIssue
from balance_tui.tui import app as app_module
from balance_tui.tui.announcements import FeedResynced, SessionLost, announcements
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.asset_panel import SPARK_EVERY, AssetPanel
from balance_tui.tui.badges import Badge, view_badges
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.engine_panel import EnginePanel
from balance_tui.tui.feed_bar import FeedBar
from balance_tui.tui.issues_panel import IssuesPanel
from balance_tui.tui.main_screen import MainScreen
from balance_tui.tui.themes import variable_defaults
from balance_tui.view import EngineView, FeedView, PricesView, SelectionView, StoreView, View
from tests.integration.conftest import eventually
from tests.tui.conftest import Notices

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class NoBackendApp(App[None]):
    """The main screen with no backend: nothing but the View a test hands it is drawn."""

    CSS_PATH = Path(app_module.__file__).parent / BalanceApp.CSS_PATH
    config = SimpleNamespace(ui=SimpleNamespace(dust_below=D(0)))
    refresh_hz = 4
    paused = False
    clock = SimpleNamespace(now=lambda: NOW)
    backend = None
    backend_error = ""
    badges: var[tuple[Badge, ...]] = var(())

    def show_view_badges(self, view: View) -> None:
        """The view's badges alone: the console's others come from its config and keys."""
        self.badges = view_badges(view)

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def view_news(self, selected: str | None) -> object:
        return None  # never new: a tick reads nothing, a test paints the View it built

    def read_view(self, selected: str | None, previous: View | None) -> View | None:
        return None  # nothing to read at each tick: a test paints the View it built

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)


def a_view() -> View:
    btc = Balance("BTC", D("1.5"), (WalletBalance("spot", "main", D("1.5")),), Source.WS, NOW - timedelta(seconds=3))
    usd = Balance("USD", D("1000"), (WalletBalance("spot", "main", D("1000")),), Source.WS, NOW)
    issue = ValidationIssue(Rule.LOW_BALANCE, Severity.WARNING, "USD", "USD free 1000 below 5000", NOW, NOW, 2)
    return View(
        now=NOW,
        balances={"BTC": btc, "USD": usd},
        values={"BTC": D("150000.004"), "USD": D("1000")},
        total=D("151000.004"),
        missing=("XTZ",),
        prices=PricesView(quote="USD", priced=True, state=FeedState.LIVE),
        feed=FeedView(
            state=FeedState.LIVE,
            system="online",
            last_message_at=NOW - timedelta(seconds=1),
            sequence=42,
            holds_source=Source.WS,
            holds_at=NOW - timedelta(seconds=2),
        ),
        engine=EngineView(source=Source.WS, breaker=BreakerState.CLOSED, rest_calls=3, fallbacks=1),
        store=StoreView(session_id=7),
        issues=(issue,),
        selection=SelectionView(asset="BTC", balance=btc),
    )


async def test_a_hand_built_view_is_drawn_without_a_backend() -> None:
    async with NoBackendApp().run_test(size=(120, 30)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        screen.paint(a_view())
        await pilot.pause()
        table = screen.query_one(BalancesTable)
        assert [row.key.value for row in table.ordered_rows] == ["BTC", "USD"]
        assert table.get_cell("BTC", "value").plain.strip() == "150,000.00"
        assert table.get_cell("BTC", "age").plain.strip() == "0s"  # 3 s old: under 10 s
        total = str(screen.query_one("#total", Static).content)
        assert total == "total value 151,000.00 USD  (without XTZ: no USD price)"
        feed = str(screen.query_one(FeedBar).content)
        assert feed.startswith("● LIVE  system online  last msg 1s ago  seq 42") and feed.endswith("holds ws 2s ago")
        engine = str(screen.query_one(EnginePanel).content)
        assert "REST     ok" in engine and "calls    3  fallbacks 1" in engine
        panel = screen.query_one(EnginePanel)
        assert panel.border_title == "engine: figures from ws" and panel.border_subtitle == "session #7 · history saved"
        assert screen.query_one(AssetPanel).border_title == "BTC"
        issues = screen.query_one(IssuesPanel)
        row = [cell.plain.strip() for cell in issues.table.get_row_at(0)]
        assert row[:2] == ["WARNING", "USD"] and issues.border_subtitle == "1 open"  # what a third of 120 columns fits
        assert (issues.selected.count, issues.selected.message) == (2, "USD free 1000 below 5000")


async def test_a_view_with_no_prices_says_why() -> None:
    async with NoBackendApp().run_test() as pilot:
        screen = pilot.app.screen
        total = screen.query_one("#total", Static)
        screen.paint(View(now=NOW, prices=PricesView(quote="EUR", endpoint="ws://127.0.0.1:9/v2")))
        assert str(total.content) == "total value: waiting for EUR prices from ws://127.0.0.1:9/v2"
        screen.paint(View(now=NOW, prices=PricesView(quote="EUR", error="cannot connect to ws://127.0.0.1:9/v2")))
        assert str(total.content) == "total value: no EUR prices: cannot connect to ws://127.0.0.1:9/v2"
        assert screen.query_one(AssetPanel).border_title == "no asset selected"


def test_blind_changes_are_announced_once_per_resync() -> None:
    changes = (BlindChange("EUR", D("10"), D("260"), NOW),)
    quiet = View(now=NOW)
    resynced = View(now=NOW, feed=FeedView(blind_changes=changes))
    assert announcements(None, quiet) == []
    (message,) = announcements(quiet, resynced)
    assert isinstance(message, FeedResynced) and message.changes is changes
    assert announcements(resynced, View(now=NOW, feed=FeedView(blind_changes=changes))) == []  # the same resync
    again = (BlindChange("EUR", D("10"), D("260"), NOW),)  # a second resync that found the same move
    assert [type(m) for m in announcements(resynced, View(now=NOW, feed=FeedView(blind_changes=again)))] == [
        FeedResynced
    ]


def test_a_lost_session_is_announced_once() -> None:
    lost = View(now=NOW, store=StoreView(session_id=7, session_lost=True))
    assert [type(m) for m in announcements(None, lost)] == [SessionLost]
    assert [type(m) for m in announcements(View(now=NOW), lost)] == [SessionLost]
    assert announcements(lost, View(now=NOW, store=StoreView(session_id=7, session_lost=True))) == []


async def test_a_session_taken_over_is_one_notice(make_config) -> None:
    notices = Notices()
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        app.backend.session_lost = True  # as the heartbeat finds it when another console took the session
        await eventually(lambda: notices.titled("Session taken over"), what="a notice")
        await pilot.pause(0.6)  # more ticks: still the one notice
        (notice,) = notices.titled("Session taken over")
        assert notice.severity == "error" and "no longer writes to it" in notice.message
        await pilot.press("q")


async def test_a_busy_assets_sparkline_redraws_at_most_every_half_second_and_its_figures_at_once() -> None:
    def selected(*totals: int) -> SelectionView:
        history = tuple(HistoryEntry(NOW, D(t), D(0), "ws") for t in totals)
        return SelectionView("BTC", Balance("BTC", D(totals[-1]), (), Source.WS, NOW), history)

    async with NoBackendApp().run_test() as pilot:
        panel = pilot.app.screen.query_one(AssetPanel)
        spark = panel.query_one(Sparkline)
        panel.show(selected(1, 2), NOW)
        assert spark.data == [1.0, 2.0]
        soon = NOW + SPARK_EVERY / 5
        panel.show(selected(1, 2, 3), soon)
        assert spark.data == [1.0, 2.0] and "3 changes" in str(panel.query_one("#trend", Static).content)
        panel.show(selected(1, 2, 3), NOW + SPARK_EVERY)  # nothing newer came: the kept change is drawn now
        assert spark.data == [1.0, 2.0, 3.0]


async def test_prices_from_rest_say_so_and_why() -> None:
    failed = "ws://127.0.0.1:9/x refused the connection with HTTP 403"
    async with NoBackendApp().run_test() as pilot:
        screen = pilot.app.screen
        total = screen.query_one("#total", Static)
        screen.paint(View(now=NOW, prices=PricesView(quote="EUR", error=failed, from_rest=True)))
        assert (
            str(total.content) == f"total value: no EUR prices yet  · prices from REST (ticker feed failed: {failed})"
        )
        screen.paint(
            View(now=NOW, total=D("12.5"), prices=PricesView(quote="EUR", priced=True, error=failed, from_rest=True))
        )
        assert str(total.content) == f"total value 12.50 EUR  · prices from REST (ticker feed failed: {failed})"
        busy = "Ticker: EService:Unavailable"
        screen.paint(
            View(now=NOW, prices=PricesView(quote="EUR", priced=True, error=failed, from_rest=True, rest_error=busy))
        )
        assert str(total.content) == f"total value 0.00 EUR  · prices from REST: {busy} (ticker feed failed: {failed})"
