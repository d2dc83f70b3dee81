"""The main screen: the balances table and the feed's health, repainted from a timer, never per message."""

from __future__ import annotations

from datetime import timedelta

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.feed_bar import FeedBar


class MainScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield BalancesTable(id="balances")
        yield FeedBar(id="feed")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1 / self.app.config.ui.refresh_hz, self.refresh_view)

    def refresh_view(self) -> None:
        """Runs at ui.refresh_hz: reads the engine's state and repaints only what changed."""
        feed = self.query_one(FeedBar)
        backend = self.app.backend
        if backend is None:
            if self.app.backend_error:
                feed.show_problem(self.app.backend_error)
            return
        manager = backend.manager
        now = manager.clock.now()
        self.query_one(BalancesTable).sync(manager.get_all_balances(), now)
        feed.show(manager, now, timedelta(seconds=backend.config.feed.stale_after_s))
