"""The main screen: the balances table and the feed's health, repainted from a timer, never per message."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from balance_tui.core.health import BlindChange
from balance_tui.tui.announcements import FeedResynced, SessionLost
from balance_tui.tui.asset_panel import AssetPanel
from balance_tui.tui.balances_pane import BalancesPane
from balance_tui.tui.balances_table import CENT, BalancesTable
from balance_tui.tui.engine_panel import EnginePanel
from balance_tui.tui.feed_bar import FeedBar
from balance_tui.tui.feed_panel import FeedPanel
from balance_tui.tui.formatting import amount
from balance_tui.tui.header import ConsoleHeader
from balance_tui.tui.history_panel import HistoryPanel
from balance_tui.tui.issues_panel import IssuesPanel
from balance_tui.tui.layout import DETAILS, PANES, Layout, LayoutError, layout_path, load_layout, save_layout
from balance_tui.view import View

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


def total_line(view: View) -> str:
    """The total value, what it leaves out, or why there is none yet (a price feed that cannot connect says
    so, with its endpoint); once the ticker feed has failed for good, that the prices come from REST."""
    prices = view.prices
    quote = prices.quote
    if prices.from_rest:
        rest = f"prices from REST: {prices.rest_error}" if prices.rest_error else "prices from REST"
        failed = f"  · {rest} (ticker feed failed: {prices.error})"
    else:
        failed = ""
    if not prices.priced:
        if prices.from_rest:
            return f"total value: no {quote} prices yet{failed}"
        if prices.error:
            return f"total value: no {quote} prices: {prices.error}"
        return f"total value: waiting for {quote} prices from {prices.endpoint}"
    text = f"total value {amount(view.total.quantize(CENT))} {quote}"
    if view.missing:
        text += f"  (without {', '.join(view.missing)}: no {quote} price)"
    return text + failed


class MainScreen(Screen[None]):
    ALLOW_IN_MAXIMIZED_VIEW = "ConsoleHeader, Footer"
    # The number keys in the order of PANES; each id a literal, as ui_names reads them.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "toggle_pane('balances')", "Balances pane", show=False, id="pane.balances"),
        Binding("2", "toggle_pane('asset')", "Asset pane", show=False, id="pane.asset"),
        Binding("3", "toggle_pane('engine')", "Engine pane", show=False, id="pane.engine"),
        Binding("4", "toggle_pane('issues')", "Issues pane", show=False, id="pane.issues"),
        Binding("5", "toggle_pane('feed')", "Feed pane", show=False, id="pane.feed"),
        Binding("6", "toggle_pane('history')", "History pane", show=False, id="pane.history"),
        Binding("z", "zoom", "Zoom", show=False, id="pane.zoom"),
        Binding("i", "issues", "Issues", show=False, id="issues.focus"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._view: View | None = None  # the last one drawn
        self._news: tuple[object, ...] = ()  # what _news read before it
        self._layout = Layout()
        self._handed_over: tuple[Widget, Widget] | None = None  # focus moved off a hidden pane: from, to

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield BalancesPane(id="balances-pane", dust_below=self.app.config.ui.dust_below)
        yield Static("", id="total", markup=False)
        with Horizontal(id="details"):
            yield AssetPanel(id="asset")
            yield EnginePanel(id="engine")
            yield IssuesPanel(id="issues")
        yield HistoryPanel(id="history")  # under the details; shown by default on tall screens (app.tcss)
        yield FeedPanel(id="feed-pane")  # docked right on wide screens (app.tcss)
        yield FeedBar(id="feed")
        yield Footer()

    def on_mount(self) -> None:
        # What a tick draws, looked up once: a DOM query by type at every tick was most of an idle tick's cost.
        self._table = self.query_one(BalancesTable)
        self._pane = self.query_one(BalancesPane)
        self._total = self.query_one("#total", Static)
        self._feed_bar = self.query_one(FeedBar)
        self._feed_panel = self.query_one(FeedPanel)
        self._asset_panel = self.query_one(AssetPanel)
        self._engine_panel = self.query_one(EnginePanel)
        self._issues_panel = self.query_one(IssuesPanel)
        self._history_panel = self.query_one(HistoryPanel)
        self._timer = self.set_interval(1 / self.app.refresh_hz, self.refresh_view)
        self.watch(self.app, "second", self._second_passed, init=False)
        try:
            self._apply(load_layout(layout_path()))
        except LayoutError as exc:
            self.notify(str(exc), title="Layout", severity="warning", markup=False)

    def action_toggle_pane(self, pane: str) -> None:
        """A number key: hide the pane if it shows, show it if not (even one the terminal's width would leave
        out); the layout is saved for the next run."""
        widget = self.query_one(f"#{PANES[pane]}")
        self._apply(self._layout.toggled(pane, widget.display))
        self.call_after_refresh(self._keep_focus, widget, self.focused)  # once the new layout's styles apply
        try:
            save_layout(layout_path(), self._layout)
        except LayoutError as exc:
            self.notify(str(exc), title="Layout", severity="warning", markup=False)

    def _apply(self, layout: Layout) -> None:
        self._layout = layout
        self._news = ()  # a pane just shown draws at the next tick, news or not
        for pane in PANES:
            self.set_class(pane in layout.hidden, f"-hide-{pane}")
            self.set_class(pane in layout.shown, f"-show-{pane}")
        self.set_class(all(pane in layout.hidden for pane in DETAILS), "-hide-details")

    def _keep_focus(self, toggled: Widget, before: Widget | None) -> None:
        """Leave focus on a shown pane, or the keys of none work (`s`, `/`, the arrows) until tab. Hiding the
        focused pane hands the focus to the first pane still shown, and showing the hidden one again takes it back;
        a pane shown takes it too when no shown pane has it."""
        chain = self.focus_chain
        if not chain:
            return
        if (
            self._handed_over is not None
            and self._handed_over[0] in chain
            and self.focused in (self._handed_over[1], None)
        ):
            target = self._handed_over[0]
        elif self.focused not in chain:
            target = next((w for w in chain if toggled in w.ancestors_with_self), chain[0])
        else:
            return
        self._handed_over = (before, target) if before is not None and before not in chain else None
        self.set_focus(target)

    def _second_passed(self) -> None:
        """The ages move: read and paint now, in the frame that moves the header's clock."""
        self._news = ()
        self.refresh_view()

    def on_resize(self) -> None:
        self._news = ()  # a breakpoint may have shown a pane: it draws at the next tick

    def action_zoom(self) -> None:
        """The focused pane over the whole screen (tab moves between panes); `z` or `esc` brings it back."""
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    def action_issues(self) -> None:
        """The validation pane over the whole screen, its table focused, the selected issue's detail shown."""
        panel = self.query_one(IssuesPanel)
        if not panel.display:
            self.action_toggle_pane("issues")
        (panel.table if panel.table.display else panel).focus()
        self.maximize(panel)

    def set_refresh_hz(self, hz: float) -> None:
        self._timer.stop()
        self._timer = self.set_interval(1 / hz, self.refresh_view)

    def refresh_view(self) -> None:
        """Runs at ui.refresh_hz: reads the app's view once (the backend's, or a recording's at the replay
        cursor), repaints only what changed, and announces what happened since the last tick."""
        app = self.app
        if app.paused:
            return
        table = self._table
        news = app.view_news(table.selected_asset)
        if news == self._news:
            return
        self._news = news
        view = app.read_view(table.selected_asset, self._view)
        if view is None:
            if app.backend_error:
                self._feed_bar.show_problem(app.backend_error)
            return
        self.paint(view)
        if table.selected_asset != view.selection.asset:
            # The cursor moved as the table took its rows (its first ones, or the selected row gone).
            view = view.reselect(table.selected_asset)
            self._asset_panel.show(view.selection, view.now)
        previous, self._view = self._view, view
        for message in app.announcements(previous, view):
            self.post_message(message)

    def paint(self, view: View) -> None:
        """Draw one View; each widget repaints only what changed since the last."""
        self._pane.show(view)
        text = total_line(view)
        if str(self._total.content) != text:
            self._total.update(text, layout=False)  # one line (app.tcss): no layout of the screen for a new figure
        self._feed_bar.show(view.feed, view.now)
        self.app.show_view_badges(view)  # in the header of every screen
        self._feed_panel.show(view.feed, view.now)
        self._asset_panel.show(view.selection, view.now)
        self._engine_panel.show(view)
        self._issues_panel.show(view.issues)
        self._history_panel.show(view.history)

    @on(SessionLost)
    def _session_lost(self) -> None:
        message = "another console took this trading session over; this one no longer writes to it"
        self.notify(message, title="Session taken over", severity="error", timeout=60)

    @on(FeedResynced)
    def _feed_resynced(self, message: FeedResynced) -> None:
        self.notify(
            describe_blind_changes(message.changes), title="Changed while the feed was down", severity="warning"
        )
