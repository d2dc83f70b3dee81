"""The bot's books for a session: the tracked balances, the adjustments made to them, and its positions.

`u` undoes the selected adjustment: a confirm asks for a reason, and the store writes the reversing entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from balance_tui.store.books import BalanceView, undo_refusal
from balance_tui.store.errors import StoreError
from balance_tui.store.tables import BalanceAdjustment, Position, TradingSession
from balance_tui.tui import availability
from balance_tui.tui.formatting import amount
from balance_tui.tui.header import ConsoleHeader
from balance_tui.tui.note_form import Note, NoteForm
from balance_tui.tui.row_table import RowTable, cells

SHOWN_ADJUSTMENTS = 50


@dataclass(frozen=True, slots=True)
class Books:
    session: TradingSession | None
    balances: list[BalanceView]
    adjustments: list[BalanceAdjustment]
    positions: list[Position]


Undo = Callable[[int, str], Awaitable[str | None]]  # adjustment id, reason -> an error to show, or None once written


def undo_note(a: BalanceAdjustment) -> Note:
    """What the undo's modal says: the adjustment, and the entry the undo will be."""
    change = f"{'+' if a.delta < 0 else ''}{amount(-a.delta)} {a.asset}"
    return Note(
        title=f"Undo adjustment #{a.id}?",
        subject=f"{a.asset} {amount(a.before)} -> {amount(a.after)} by {a.operator} at {a.created_at:%Y-%m-%d %H:%M:%S}"
        f" UTC: {a.reason}",
        hint=f"The undo is a new entry of {change} on the balance as it stands now; #{a.id} itself stays.",
        name="reason",
        missing="reason: say why; it is recorded with the undo",
        confirm="Undo",
        warning=True,
    )


def undone_by(adjustments: list[BalanceAdjustment]) -> dict[int, int]:
    """Which adjustment undid which: original id -> the id of its undo."""
    return {a.reverses_id: a.id for a in adjustments if a.reverses_id is not None and a.id is not None}


class BooksScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,b", "app.pop_screen", "Back", id="books.back"),
        Binding("u", "undo", "Undo adjustment", id="books.undo"),
    ]

    def __init__(self, load: Callable[[], Awaitable[Books]], undo: Undo) -> None:
        """`load` reads the books, `undo` reverses an adjustment."""
        super().__init__()
        self._load = load
        self._undo = undo
        self._adjustments: dict[int, BalanceAdjustment] = {}
        self._undone_by: dict[int, int] = {}

    @property
    def _read_only(self) -> bool:
        """The books cannot be changed from this console (`availability` says why)."""
        return bool(availability.unavailable(self.app, "undo"))

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield Static("reading the books", id="books-session", classes="heading", markup=False)
        yield Static("tracked balances", classes="heading")
        yield RowTable(id="tracked")
        undo = "" if self._read_only else "  (u undoes the selected one)"
        yield Static(f"adjustments, newest first{undo}", classes="heading")
        yield RowTable(id="adjustments")
        yield Static("positions of the session", classes="heading")
        yield RowTable(id="positions")
        yield Footer()

    def on_mount(self) -> None:
        tracked = self.query_one("#tracked", RowTable)
        # Each table fits 110 columns: no sideways scrolling for the figures an operator came to read.
        for label, width in (("Asset", 8), ("Total", 18), ("Reserved", 14), ("Available", 18), ("Ver", 4),
                             ("Updated by", 10), ("Reason", 20)):  # fmt: skip
            tracked.add_column(label, width=width)
        adjustments = self.query_one("#adjustments", RowTable)
        for label, width in (("#", 4), ("Kind", 15), ("When (UTC)", 19), ("Asset", 6), ("Before", 12),
                             ("After", 12), ("Operator", 10), ("Reason", 13)):  # fmt: skip
            adjustments.add_column(label, width=width)
        positions = self.query_one("#positions", RowTable)
        for label, width in (("Symbol", 10), ("Side", 6), ("Size", 18), ("Entry price", 18), ("Status", 7),
                             ("Opened (UTC)", 19)):  # fmt: skip
            positions.add_column(label, width=width)
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only console shows `u` disabled; pressing it says why (the app's `on_key`)."""
        return availability.check(self.app, action) if action == "undo" else True

    @work(exclusive=True, group="books", exit_on_error=False, description="read the books")
    async def reload(self) -> None:
        """Read the books again (after any adjustment); a failed read is said in the heading."""
        heading = self.query_one("#books-session", Static)
        try:
            books = await self._load()
        except (StoreError, SQLAlchemyError) as exc:  # shown; the screen stays
            heading.update(f"cannot read the books: {exc}")
            return
        session = books.session
        if session is None:
            heading.update("no trading session yet: the books open with the first console that runs one")
        else:
            heading.update(
                f"session #{session.id} ({session.status}) since {session.started_at:%Y-%m-%d %H:%M} UTC"
                + ("  ·  read-only: this console writes nothing" if self._read_only else "")
            )
        self.show(books)

    def show(self, books: Books) -> None:
        """Replace the tables: a handful of rows, read after every change, so no diffing is needed."""
        tracked = self.query_one("#tracked", RowTable)
        tracked.clear()
        for b in books.balances:
            tracked.add_row(
                *cells(b.asset, amount(b.total), amount(b.reserved), amount(b.available), str(b.version),
                        b.updated_by, b.update_reason)
            )  # fmt: skip
        self._adjustments = {a.id: a for a in books.adjustments if a.id is not None}
        self._undone_by = undone_by(books.adjustments)
        table = self.query_one("#adjustments", RowTable)
        table.clear()
        for a in reversed(books.adjustments[-SHOWN_ADJUSTMENTS:]):
            table.add_row(
                *cells(str(a.id), self._kind(a), f"{a.created_at:%Y-%m-%d %H:%M:%S}", a.asset, amount(a.before),
                        amount(a.after), a.operator, a.reason),
                key=str(a.id),
            )  # fmt: skip
        positions = self.query_one("#positions", RowTable)
        positions.clear()
        for p in books.positions:
            positions.add_row(
                *cells(p.symbol, p.side, amount(p.size), amount(p.entry_price), p.status,
                        f"{p.opened_at:%Y-%m-%d %H:%M:%S}")
            )  # fmt: skip

    def _kind(self, adjustment: BalanceAdjustment) -> str:
        if adjustment.reverses_id is not None:
            return f"undoes #{adjustment.reverses_id}"
        if (by := self._undone_by.get(adjustment.id or 0)) is not None:
            return f"undone by #{by}"  # Kind is wide enough for ids up to 9999, as "#" is
        return str(adjustment.kind)

    def action_undo(self) -> None:
        """Undo the selected adjustment, once the operator gives a reason; what the store would refuse (an undo,
        an adjustment undone already) is said at once, in the store's words."""
        table = self.query_one("#adjustments", RowTable)
        if table.row_count == 0:
            self.notify("there is no adjustment to undo", title="Undo", severity="warning", markup=False)
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        adjustment = self._adjustments.get(int(key or 0))
        if adjustment is None or adjustment.id is None:
            return
        if refusal := undo_refusal(adjustment, undone_by=self._undone_by.get(adjustment.id)):
            self.notify(refusal, title="Undo: refused", severity="warning", markup=False)
            return
        self.app.push_screen(NoteForm(undo_note(adjustment), partial(self._undo, adjustment.id)))
