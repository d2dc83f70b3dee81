"""The bot's books for a session: the tracked balances and the adjustments made to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from balance_tui.store.books import BalanceView
from balance_tui.store.errors import StoreError
from balance_tui.store.tables import BalanceAdjustment, TradingSession
from balance_tui.tui.formatting import amount
from balance_tui.tui.header import ConsoleHeader
from balance_tui.tui.row_table import RowTable, cells

SHOWN_ADJUSTMENTS = 50

Books = tuple[TradingSession | None, list[BalanceView], list[BalanceAdjustment]]


class BooksScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,b", "app.pop_screen", "Back", id="books.back")]

    def __init__(self, load: Callable[[], Awaitable[Books]], *, read_only: bool = False) -> None:
        """`load` reads the books; `read_only`: they cannot be adjusted from this console."""
        super().__init__()
        self._load = load
        self._read_only = read_only

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield Static("reading the books", id="books-session", classes="heading", markup=False)
        yield Static("tracked balances", classes="heading")
        yield RowTable(id="tracked")
        yield Static("adjustments, newest first", classes="heading")
        yield RowTable(id="adjustments")
        yield Footer()

    def on_mount(self) -> None:
        tracked = self.query_one("#tracked", RowTable)
        for label, width in (("Asset", 8), ("Total", 22), ("Reserved", 18), ("Available", 22), ("Ver", 4),
                             ("Updated by", 14), ("Reason", 30)):  # fmt: skip
            tracked.add_column(label, width=width)
        adjustments = self.query_one("#adjustments", RowTable)
        for label, width in (("#", 5), ("When (UTC)", 19), ("Asset", 8), ("Before", 18), ("After", 18),
                             ("Operator", 14), ("Reason", 30)):  # fmt: skip
            adjustments.add_column(label, width=width)
        self.reload()

    @work(exclusive=True, group="books", exit_on_error=False, description="read the books")
    async def reload(self) -> None:
        """Read the books again (after any adjustment); a failed read is said in the heading."""
        heading = self.query_one("#books-session", Static)
        try:
            session, balances, adjustments = await self._load()
        except (StoreError, SQLAlchemyError) as exc:  # shown; the screen stays
            heading.update(f"cannot read the books: {exc}")
            return
        if session is None:
            heading.update("no trading session yet: the books open with the first console that runs one")
        else:
            heading.update(
                f"session #{session.id} ({session.status}) since {session.started_at:%Y-%m-%d %H:%M} UTC"
                + ("  ·  read-only: this console writes nothing" if self._read_only else "")
            )
        self.show(balances, adjustments)

    def show(self, balances: list[BalanceView], adjustments: list[BalanceAdjustment]) -> None:
        """Replace both tables: a handful of rows, read after every change, so no diffing is needed."""
        tracked = self.query_one("#tracked", RowTable)
        tracked.clear()
        for b in balances:
            tracked.add_row(
                *cells(b.asset, amount(b.total), amount(b.reserved), amount(b.available), str(b.version),
                        b.updated_by, b.update_reason)
            )  # fmt: skip
        table = self.query_one("#adjustments", RowTable)
        table.clear()
        for a in reversed(adjustments[-SHOWN_ADJUSTMENTS:]):
            table.add_row(
                *cells(str(a.id), f"{a.created_at:%Y-%m-%d %H:%M:%S}", a.asset, amount(a.before), amount(a.after),
                        a.operator, a.reason)
            )  # fmt: skip
