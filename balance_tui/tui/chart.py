"""One asset's balance against time: Textual's Sparkline as the plot, with a value axis, a time axis, and the
ledger's deposits, withdrawals and trades marked on the time axis where they happened.

The Sparkline spreads its data evenly over its width, so it is given exactly one value per column: the
balance at the end of that column's slice of time (the last point at or before it, carried forward), and
a column is the same length of time wherever it is. The points come downsampled from the store; floats are
used only to scale the bars, and the axis shows the exact lowest and highest balance.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Sparkline, Static

from balance_tui.store.history import HistoryPoint
from balance_tui.store.tables import LedgerEntryRecord
from balance_tui.tui.formatting import amount

PLOT_ROWS = 6  # until laid out: then as tall as the CSS makes the plot (shorter on a low terminal)
# The mark for each kind of ledger entry, the most telling first: where several fall in one column, the
# first of them in this order is drawn.
MARKS = {"withdrawal": "▼", "deposit": "▲", "trade": "◆"}
OTHER_MARK = "●"  # staking rewards, transfers, anything else
LEGEND = f"▲ deposit  ▼ withdrawal  ◆ trade  {OTHER_MARK} other"
LABEL_GAP = 6  # blank columns between two time labels, at least
TICK_STEPS = tuple(
    [timedelta(seconds=n) for n in (1, 2, 5, 10, 15, 30)]
    + [timedelta(minutes=n) for n in (1, 2, 5, 10, 15, 30)]
    + [timedelta(hours=n) for n in (1, 2, 3, 4, 6, 12)]
    + [timedelta(days=n) for n in (1, 2, 7, 14, 28)]
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def columns(points: Sequence[HistoryPoint], start: datetime, end: datetime, width: int) -> list[Decimal]:
    """The balance at the end of each of `width` equal slices of start..end (points oldest first, the first
    at `start`): the last point in or before the slice, which holds until the next."""
    if not points or width < 1:
        return []
    times = [p.observed_at for p in points]
    span = end - start
    values = []
    for column in range(width):
        if column == width - 1 or span <= timedelta(0):
            after = bisect.bisect_right(times, end)  # the last slice ends at `end`, and holds it
        else:
            after = bisect.bisect_left(times, start + span * (column + 1) / width)
        values.append(points[max(0, after - 1)].total)
    return values


def column_of(at: datetime, start: datetime, end: datetime, width: int) -> int | None:
    """The column a moment falls in, or None outside start..end."""
    if at < start or at > end:
        return None
    if end <= start:
        return width - 1
    return min(width - 1, int((at - start) / (end - start) * width))


def mark_line(entries: Sequence[LedgerEntryRecord], start: datetime, end: datetime, width: int) -> list[str]:
    """One character per column: the mark of the most telling entry in it, else blank."""
    ranks = {mark: rank for rank, mark in enumerate([*MARKS.values(), OTHER_MARK])}
    line = [""] * width
    for entry in entries:
        column = column_of(entry.occurred_at, start, end, width)
        if column is None:
            continue
        mark = MARKS.get(entry.type, OTHER_MARK)
        if not line[column] or ranks[mark] < ranks[line[column]]:
            line[column] = mark
    return line


def time_labels(start: datetime, end: datetime, width: int) -> tuple[list[int], str]:
    """Where the time axis is ticked, and the line of labels under it: ticks on round clock times (UTC),
    the narrowest step that leaves LABEL_GAP columns between labels, each label centred on its tick."""
    span = end - start
    if span <= timedelta(0) or width < 2 * LABEL_GAP:  # one moment, or no room: the end, at the right
        text = f"{end:%H:%M:%S}"[:width]
        return [width - 1], text.rjust(width)
    for step in TICK_STEPS:
        fmt = _format(step, span)
        if step * width >= span * (len(f"{end:{fmt}}") + LABEL_GAP):
            break
    line = [" "] * width
    ticks: list[int] = []
    at = _EPOCH + step * -((_EPOCH - start) // step)  # the first round time at or after start
    free_from = 0
    while at <= end:
        column = column_of(at, start, end, width)
        text = f"{at:{fmt}}"
        left = min(max(0, (column or 0) - len(text) // 2), width - len(text))
        if column is not None and left >= free_from:
            line[left : left + len(text)] = text
            ticks.append(column)
            free_from = left + len(text) + 1
        at += step
    return ticks, "".join(line)


def _format(step: timedelta, span: timedelta) -> str:
    if step < timedelta(minutes=1):
        return "%H:%M:%S"
    if step >= timedelta(days=1):
        return "%m-%d"
    return "%H:%M" if span <= timedelta(days=1) else "%m-%d %H:%M"


class BalanceChart(Vertical):
    """Draw with `show`; it redraws itself on resize, one column per cell of its width."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._points: Sequence[HistoryPoint] = ()
        self._entries: Sequence[LedgerEntryRecord] = ()
        self._span: tuple[datetime, datetime] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="plot"):
            yield Static("", id="value-axis", markup=False)
            yield Sparkline([], summary_function=max)
        yield Static("", id="time-axis", markup=False)
        yield Static("", id="time-labels", markup=False)
        yield Static(LEGEND, id="legend", markup=False)

    def show(self, points: Sequence[HistoryPoint], until: datetime, entries: Sequence[LedgerEntryRecord]) -> None:
        """`points` oldest first; the time axis runs from the first of them to `until`."""
        self._points, self._entries = points, entries
        self._span = (points[0].observed_at, until) if points else None
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        axis = self.query_one("#value-axis", Static)
        if self._span is None:
            axis.update("")
            self.query_one(Sparkline).data = []
            self.query_one("#time-axis", Static).update("")
            self.query_one("#time-labels", Static).update("no samples in this range")
            return
        start, end = self._span
        totals = [p.total for p in self._points]
        high, low = amount(max(totals)), amount(min(totals))
        label = max(len(high), len(low))
        axis.styles.width = label + 2
        rows = self.query_one("#plot").size.height or PLOT_ROWS
        axis.update("\n".join([f"{high:>{label}} ┤", *[f"{'':>{label}} │"] * (rows - 2), f"{low:>{label}} ┤"]))
        width = self.size.width - label - 2
        if width < 2:
            return
        values = columns(self._points, start, end, width)
        plot = self.query_one(Sparkline)
        plot.styles.width = width  # exactly one bar per value: the Sparkline would bucket them otherwise
        plot.data = [float(v) for v in values]  # to scale the bars only
        ticks, labels = time_labels(start, end, width)
        line = ["┬" if column in ticks else "─" for column in range(width)]
        for column, mark in enumerate(mark_line(self._entries, start, end, width)):
            if mark:
                line[column] = mark
        pad = " " * (label + 1)
        self.query_one("#time-axis", Static).update(Content(f"{pad}└{''.join(line)}"))
        self.query_one("#time-labels", Static).update(Content(f"{pad} {labels}"))
