"""The balances pane: the table, the filter line under it (k9s `/`), and a heading that says what is left out."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import DataTable, Input, Label, Static

from balance_tui.tui.balances_table import COLUMNS, EXTRA, BalancesTable
from balance_tui.tui.formatting import amount
from balance_tui.view import View

TITLE = "balances"
LABELS = {key: label.lower() for key, label, *_ in COLUMNS}  # in the row's detail line


class BalancesPane(Vertical):
    ALLOW_MAXIMIZE = True  # `z` on the table zooms the whole pane: heading, table and filter line
    # On the pane, not the table, so they work from the filter line too; there letters are typed, not keys.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort", id="balances.sort",
                tooltip="sort by the next column; a click on a header sorts by it"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="balances.reverse",
                tooltip="the same column the other way round"),
        Binding("slash", "open_filter", "Filter", key_display="/", id="balances.filter",
                tooltip="show only the assets whose name holds what you type; enter keeps it"),
        Binding("escape", "clear_filter", "Clear filter", id="balances.clear_filter",
                tooltip="show every asset again"),
        Binding("d", "toggle_dust", "Dust", show=False, id="balances.dust",
                tooltip="show or hide the balances worth less than dust_below (the config's ui section)"),
    ]  # fmt: skip

    def __init__(self, *, dust_below: Decimal = Decimal(0), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._dust_below = dust_below
        self._quote = ""
        self._title = TITLE
        self.border_title = TITLE

    def compose(self) -> ComposeResult:
        yield BalancesTable(id="balances", dust_below=self._dust_below)
        yield Static("", id="row-detail", markup=False)
        with Horizontal(id="filter-bar"):
            yield Label("filter /")
            yield Input(placeholder="part of an asset name: enter keeps the filter, esc clears it", id="filter")

    @property
    def table(self) -> BalancesTable:
        return self.query_one(BalancesTable)

    @property
    def filter_line(self) -> Input:
        return self.query_one("#filter", Input)

    def show(self, view: View) -> None:
        """Draw one tick's balances; the heading changes only when what it says does."""
        self._quote = view.prices.quote
        self.table.sync(view.balances, view.now, view.values)
        self._update_title()
        self._show_detail()

    @on(DataTable.RowHighlighted, "#balances")
    @on(BalancesTable.ColumnsChanged)
    def _show_detail(self) -> None:
        """The selected row's figures in the columns that gave way for want of room, under the table: an
        amount is never out of sight. Hidden while every column shows."""
        table, detail = self.table, self.query_one("#row-detail", Static)
        dropped = tuple(key for key in table.dropped_columns if key not in EXTRA)
        asset = table.selected_asset
        figures = {} if asset is None else table.figures(asset)
        detail.display = bool(dropped)
        text = "  ".join(
            [asset or "", *(f"{LABELS[key]} {figures[key]}{self._unit(key)}" for key in dropped if key in figures)]
        )
        if str(detail.content) != text:
            detail.update(text)

    def _unit(self, key: str) -> str:
        return f" {self._quote}" if key == "value" and self._quote else ""

    @property
    def filter_bar(self) -> Horizontal:
        return self.query_one("#filter-bar", Horizontal)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`esc` is the filter's only while there is one to clear (or the filter line is open); `/` is typed
        into the filter line, not a key there."""
        if action == "clear_filter":
            return bool(self.table.filter) or self.filter_bar.has_class("-open")
        if action == "open_filter":
            return not self.filter_line.has_focus
        return True

    def action_cycle_sort(self) -> None:
        self.table.cycle_sort()

    def action_reverse_sort(self) -> None:
        self.table.reverse_sort()

    def action_open_filter(self) -> None:
        self.filter_bar.add_class("-open")
        self.filter_line.focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        line = self.filter_line
        line.value = ""  # Input.Changed follows, after this handler: the filter is cleared here too
        self.table.set_filter("")
        self._close_filter()

    def action_toggle_dust(self) -> None:
        if self._dust_below <= 0:
            self.notify(
                "nothing is hidden as dust: set [ui] dust_below in the config to an amount in "
                f"{self._quote or 'the value_in currency'} to hide smaller balances",
                title="Dust",
                markup=False,
            )
            return
        self.table.toggle_dust()
        self._update_title()

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        event.stop()
        self.table.set_filter(event.value)
        self._update_title()
        self.refresh_bindings()

    @on(Input.Submitted, "#filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_filter()

    def _close_filter(self) -> None:
        self.filter_bar.remove_class("-open")
        self.table.focus()
        self._update_title()
        self.refresh_bindings()

    def _update_title(self) -> None:
        table = self.table
        counts = table.counts
        parts = [TITLE]
        if table.filter:
            parts.append(f"filter: {table.filter} ({counts.shown} of {counts.held})")
        if counts.dust:
            below = f"under {amount(self._dust_below)} {self._quote}"
            parts.append(f"{counts.dust} {below} shown" if table.show_dust else f"{counts.dust} {below} hidden")
        title = "  ·  ".join(parts)
        if title != self._title:
            self._title = title
            self.border_title = Content(title)  # not markup: the filter is typed by the operator
