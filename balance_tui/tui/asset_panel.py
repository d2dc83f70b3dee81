"""The selected asset up close: its recent history as a sparkline, the trend, and where it is held."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Sparkline, Static

from balance_tui.tui.formatting import amount, no_trend_yet, trend_text
from balance_tui.view import SelectionView


class AssetPanel(Vertical):
    can_focus = True  # tab reaches it, and `z` zooms it

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield Sparkline([], summary_function=max)
        yield Static("", id="trend", markup=False)
        yield Static("", id="wallets", markup=False)

    def show(self, selection: SelectionView) -> None:
        """Repaint only when the asset or its history moved (history entries are immutable)."""
        if selection.key == self._shown:
            return
        self._shown = selection.key
        asset, history, balance, trend = selection.asset, selection.history, selection.balance, selection.trend
        self.border_title = asset or "no asset selected"
        # Floats only to scale the bars: the figures themselves are shown exactly elsewhere.
        self.query_one(Sparkline).data = [float(entry.total) for entry in history]
        self.query_one("#trend", Static).update(
            trend_text(trend) if trend is not None and trend.stated else no_trend_yet(len(history), trend)
        )
        wallets = "" if balance is None else "  ".join(f"{w.type}/{w.id} {amount(w.balance)}" for w in balance.wallets)
        self.query_one("#wallets", Static).update(Content(wallets))
