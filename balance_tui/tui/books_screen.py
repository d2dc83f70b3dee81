"""The bot's books for this session: the tracked balances and the adjustments made to them."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from balance_tui.store.books import BalanceView
from balance_tui.store.tables import BalanceAdjustment
from balance_tui.tui.formatting import amount

SHOWN_ADJUSTMENTS = 50


class BooksScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,b", "app.pop_screen", "Back", id="books.back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("tracked balances", classes="heading")
        yield DataTable(id="tracked", cursor_type="row", zebra_stripes=True)
        yield Static("adjustments, newest first", classes="heading")
        yield DataTable(id="adjustments", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        tracked = self.query_one("#tracked", DataTable)
        for label, width in (("Asset", 8), ("Total", 22), ("Reserved", 18), ("Available", 22), ("Ver", 4),
                             ("Updated by", 14), ("Reason", 30)):  # fmt: skip
            tracked.add_column(label, width=width)
        adjustments = self.query_one("#adjustments", DataTable)
        for label, width in (("#", 5), ("When (UTC)", 19), ("Asset", 8), ("Before", 18), ("After", 18),
                             ("Operator", 14), ("Reason", 30)):  # fmt: skip
            adjustments.add_column(label, width=width)
        self.app.reload_books()  # type: ignore[attr-defined]

    def show(self, balances: list[BalanceView], adjustments: list[BalanceAdjustment]) -> None:
        """Replace both tables: a handful of rows, read after every change, so no diffing is needed."""
        tracked = self.query_one("#tracked", DataTable)
        tracked.clear()
        for b in balances:
            tracked.add_row(
                *_cells(b.asset, amount(b.total), amount(b.reserved), amount(b.available), str(b.version),
                        b.updated_by, b.update_reason)
            )  # fmt: skip
        table = self.query_one("#adjustments", DataTable)
        table.clear()
        for a in reversed(adjustments[-SHOWN_ADJUSTMENTS:]):
            table.add_row(
                *_cells(str(a.id), f"{a.created_at:%Y-%m-%d %H:%M:%S}", a.asset, amount(a.before), amount(a.after),
                        a.operator, a.reason)
            )  # fmt: skip


def _cells(*values: str) -> tuple[Text, ...]:
    """Text, not str: a str cell is read as markup, and reasons are typed by people."""
    return tuple(Text(value) for value in values)
