"""The main screen: the balances table and the feed's health, repainted from a timer, never per message."""

from __future__ import annotations

from datetime import timedelta

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from balance_tui.backend import Backend
from balance_tui.core import Balance
from balance_tui.core.health import BlindChange
from balance_tui.tui.asset_panel import AssetPanel
from balance_tui.tui.balances_table import CENT, BalancesTable
from balance_tui.tui.engine_panel import EnginePanel
from balance_tui.tui.feed_bar import FeedBar
from balance_tui.tui.formatting import amount
from balance_tui.tui.issues_panel import IssuesPanel

SHOWN_CHANGES = 5


def describe_blind_changes(changes: tuple[BlindChange, ...]) -> str:
    """One line per asset that moved while the feed could not see it, so nothing changes unnoticed."""
    lines = [
        f"{c.asset}: {'new' if c.before is None else amount(c.before)} -> {amount(c.after)}"
        for c in changes[:SHOWN_CHANGES]
    ]
    if len(changes) > SHOWN_CHANGES:
        lines.append(f"and {len(changes) - SHOWN_CHANGES} more")
    return "\n".join(lines)


def _no_prices_yet(backend: Backend, quote: str) -> str:
    """Why there is no total yet; a price feed that cannot connect says so, with its endpoint."""
    ticker = backend.ticker
    if ticker is not None and ticker.health.error:
        return f"no {quote} prices: {ticker.health.error}"
    return f"waiting for {quote} prices from {backend.public_url}"


class MainScreen(Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self._reported_blind: tuple[BlindChange, ...] = ()
        self._reported_lost = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield BalancesTable(id="balances")
        yield Static("", id="total", markup=False)
        with Horizontal(id="details"):
            yield AssetPanel(id="asset")
            yield EnginePanel(id="engine")
            yield IssuesPanel(id="issues")
        yield FeedBar(id="feed")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1 / self.app.config.ui.refresh_hz, self.refresh_view)

    def _show_total(self, backend: Backend, balances: dict[str, Balance], quote: str) -> None:
        total, missing = backend.prices.total_value(balances, quote)
        text = f"total value {amount(total.quantize(CENT))} {quote}"
        if missing:
            text += f"  (without {', '.join(missing)}: no {quote} price)"
        if not backend.prices.symbols:
            text = f"total value: {_no_prices_yet(backend, quote)}"
        label = self.query_one("#total", Static)
        if str(label.content) != text:
            label.update(text)

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
        table = self.query_one(BalancesTable)
        balances, quote = manager.get_all_balances(), backend.config.engine.value_in
        table.sync(balances, now, {asset: backend.prices.value(asset, b.total, quote) for asset, b in balances.items()})
        self._show_total(backend, balances, quote)
        feed.show(manager, now, timedelta(seconds=backend.config.feed.stale_after_s))
        self.query_one(AssetPanel).show(manager, table.selected_asset, now)
        self.query_one(EnginePanel).show(backend, now)
        self.query_one(IssuesPanel).show(manager.validator.active_issues)
        if backend.session_lost and not self._reported_lost:
            self._reported_lost = True
            message = "another console took this trading session over; this one no longer writes to it"
            self.notify(message, title="Session taken over", severity="error", timeout=60)
        changes = manager.health.blind_changes
        if changes and changes is not self._reported_blind:
            self._reported_blind = changes
            self.notify(describe_blind_changes(changes), title="Changed while the feed was down", severity="warning")
