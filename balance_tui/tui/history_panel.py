"""The history pane (6): every asset at once, one line each: a small sparkline of its recent changes, the
trend's arrow with its rate per hour, and its volatility.

Where it sits: a row of its own under the details (asset, engine, validation), as wide as the screen, one
line per asset (scrolling past HISTORY_ROWS, or past 6 on a short terminal so the table keeps some rows).
It is shown by default only on terminals at least 50 rows tall (BalanceApp's `-tall` vertical breakpoint),
where the balances table leaves the room; on shorter ones `6` shows it and the table gives up the lines.
`6` hides it again anywhere, and the layout is remembered.

Cheap per tick: the view carries one `AssetHistoryView` per asset, the same object while that asset's
history stands still (its engine revision), and each line is rendered once per new object; the pane
rewrites its text only when a line changed. The sparkline is block characters drawn here, not a Sparkline
widget per asset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from balance_tui.core.history import TrendDirection
from balance_tui.tui.formatting import TREND_NEEDS, changes_so_far, rate
from balance_tui.view import AssetHistoryView

SPARK_WIDTH = 24  # cells: the latest SPARK_POINTS changes are bucketed into this many
ASSET_WIDTH = 6
RATE_WIDTH = 22
HISTORY_ROWS = 14  # lines shown before the pane scrolls (app.tcss max-height is this plus the border)
BLOCKS = "▁▂▃▄▅▆▇█"
ARROWS = {
    TrendDirection.INCREASING: ("↑", "$balance-up"),
    TrendDirection.DECREASING: ("↓", "$balance-down"),
    TrendDirection.STABLE: ("→", "$text-muted"),
}


def spark(totals: Sequence[Decimal], width: int = SPARK_WIDTH) -> str:
    """One line of at most `width` block characters (right-aligned by the caller: the newest change at the
    right edge); with more points than cells, each cell draws the highest of its bucket, as the asset
    pane's Sparkline does. Nothing moved draws the lowest block. Exact Decimal comparisons."""
    if not totals:
        return ""
    if len(totals) > width:
        n = len(totals)
        totals = [max(totals[i * n // width : (i + 1) * n // width]) for i in range(width)]
    low, high = min(totals), max(totals)
    if high == low:
        cells = BLOCKS[0] * len(totals)
    else:
        top = len(BLOCKS) - 1
        cells = "".join(BLOCKS[int((t - low) * top / (high - low) + Decimal("0.5"))] for t in totals)
    return cells


def history_line(row: AssetHistoryView) -> Content:
    """asset, sparkline, arrow and rate per hour, ± volatility; a trend only once it is `stated`, till then the
    changes so far. The widths are such that a whole line fits 80 columns (the pane's subtitle says what ± is,
    and what a trend needs)."""
    cells = spark([e.total for e in row.history])
    head = Content.assemble(
        (row.asset.ljust(ASSET_WIDTH), "bold"), " " * (1 + SPARK_WIDTH - len(cells)), (cells, "$primary"), "  "
    )
    trend = row.trend
    if trend is None or not trend.stated:
        return head + Content.styled(f"·  {changes_so_far(len(row.history), trend)}", "$text-muted")
    arrow, style = ARROWS[trend.trend_direction]
    return Content.assemble(
        head,
        (arrow, style),
        " ",
        f"{rate(trend.slope_per_hour, sign=True)}/h".ljust(RATE_WIDTH),
        f"  ± {rate(trend.volatility)}",
    )


class HistoryPanel(VerticalScroll):
    can_focus = True  # tab reaches it, and `z` zooms it
    ALLOW_MAXIMIZE = True  # a scrolling container is not zoomed by default

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: Mapping[str, AssetHistoryView] | None = None
        self._lines: dict[str, tuple[AssetHistoryView, Content]] = {}  # the last line drawn for each asset
        self.border_title = "history"
        self.border_subtitle = f"trend per hour · ± volatility · {TREND_NEEDS}"

    def compose(self) -> ComposeResult:
        yield Static("no assets yet", id="history-rows", markup=False)

    def show(self, history: Mapping[str, AssetHistoryView]) -> None:
        """Redraw only the assets whose row is a new object, and the text only if one was; nothing while the pane
        is hidden (the first tick it shows draws it)."""
        if history is self._shown or not self.display:
            return
        self._shown = history
        lines: dict[str, tuple[AssetHistoryView, Content]] = {}
        for asset, row in history.items():
            last = self._lines.get(asset)
            lines[asset] = last if last is not None and last[0] is row else (row, history_line(row))
        if lines.keys() == self._lines.keys() and all(lines[a][0] is self._lines[a][0] for a in lines):
            return
        self._lines = lines
        text = Content("\n").join(line for _, line in lines.values()) if lines else Content("no assets yet")
        self.query_one("#history-rows", Static).update(text)

    @property
    def text(self) -> str:
        """What the pane shows, as plain text (for tests)."""
        return "\n".join(line.plain for _, line in self._lines.values())
