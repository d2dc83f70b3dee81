"""The selected asset up close: its recent history as a sparkline, the trend, and where it is held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline

from balance_tui.tui.formatting import amount, no_trend_yet, trend_text
from balance_tui.tui.line_static import LineStatic
from balance_tui.view import SelectionView

SPARK_EVERY = timedelta(seconds=0.5)


class AssetPanel(Vertical):
    can_focus = True  # tab reaches it, and `z` zooms it

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: tuple[object, ...] = ()
        self._title = ""
        self._spark: tuple[object, ...] = (None,)  # the asset, last entry and count the sparkline was drawn from
        self._spark_at = datetime.min.replace(tzinfo=UTC)

    def compose(self) -> ComposeResult:
        yield Sparkline([], summary_function=max)
        yield LineStatic("", id="trend", markup=False)
        yield LineStatic("", id="wallets", markup=False)

    def show(self, selection: SelectionView, now: datetime) -> None:
        """Repaint only when the asset or its history moved (history entries are immutable); a busy asset's
        sparkline at most every SPARK_EVERY of `now` (each redraw is two lines of colours on the wire), its
        figures at once."""
        asset, history, balance, trend = selection.asset, selection.history, selection.balance, selection.trend
        spark = (asset, history[-1] if history else None, len(history))
        if spark != self._spark and (asset != self._spark[0] or now - self._spark_at >= SPARK_EVERY):
            self._spark, self._spark_at = spark, now
            # Floats only to scale the bars: the figures themselves are shown exactly elsewhere.
            self.query_one(Sparkline).data = [float(entry.total) for entry in history]
        if selection.key == self._shown:
            return
        self._shown = selection.key
        title = asset or "no asset selected"
        if title != self._title:  # setting it repaints the whole pane, even to the same text
            self._title = self.border_title = title
        self.query_one("#trend", LineStatic).show_lines(
            [trend_text(trend) if trend is not None and trend.stated else no_trend_yet(len(history), trend)]
        )
        wallets = "" if balance is None else "  ".join(f"{w.type}/{w.id} {amount(w.balance)}" for w in balance.wallets)
        self.query_one("#wallets", LineStatic).show_lines([wallets])
