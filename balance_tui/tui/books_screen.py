"""The bot's books for a session: the tracked balances, the adjustments made to them, and its positions.

`u` undoes the selected adjustment: a confirm asks for a reason, and the store writes the reversing entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from balance_tui.store import books, positions, sessions
from balance_tui.store.books import BalanceView, undo_refusal
from balance_tui.store.errors import StoreError
from balance_tui.store.tables import BalanceAdjustment, Position, TradingSession
from balance_tui.tui import availability
from balance_tui.tui.formatting import amount
from balance_tui.tui.header import ConsoleHeader
from balance_tui.tui.note_form import Note, NoteForm
from balance_tui.tui.row_table import Column, RowTable, fill

SHOWN_ADJUSTMENTS = 50
# Each column as wide as its widest figure; the reasons take what is left, and the selected adjustment is
# shown in full under its table, so no sideways scrolling is needed to read one.
TRACKED: tuple[Column, ...] = (("asset", "Asset", False), ("total", "Total", True), ("reserved", "Reserved", True),
    ("available", "Available", True), ("version", "Ver", True), ("by", "Updated by", False),
    ("reason", "Reason", False))  # fmt: skip
ADJUSTMENTS: tuple[Column, ...] = (("id", "#", True), ("kind", "Kind", False), ("when", "When (UTC)", False),
    ("asset", "Asset", False), ("before", "Before", True), ("after", "After", True), ("by", "Operator", False),
    ("reason", "Reason", False))  # fmt: skip
POSITIONS: tuple[Column, ...] = (("symbol", "Symbol", False), ("side", "Side", False), ("size", "Size", True),
    ("entry", "Entry price", True), ("status", "Status", False), ("opened", "Opened (UTC)", False))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Books:
    session: TradingSession | None
    balances: list[BalanceView]
    adjustments: list[BalanceAdjustment]
    positions: list[Position]


def read_books(store: Engine, exchange: str | None, session: TradingSession | None) -> Books:
    """The books of `session`, or of `exchange`'s latest session when there is none (a read-only console's,
    a recording's); in a thread, as the store's reads block."""
    if session is None:
        latest = sessions.latest(store, exchange, 1)
        session = latest[0] if latest else None
    if session is None or session.id is None:
        return Books(None, [], [], [])
    balances = books.read_balances(store, session.id)
    adjustments = books.adjustments(store, session_id=session.id)
    return Books(session, balances, adjustments, positions.session_positions(store, session.id))


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


def described(a: BalanceAdjustment) -> str:
    """One adjustment in a line, its whole reason: in a notice, and under the books' table."""
    undoes = f" (undoes #{a.reverses_id})" if a.reverses_id is not None else ""
    return f"#{a.id} {a.asset} {amount(a.before)} -> {amount(a.after)} by {a.operator}: {a.reason}{undoes}"


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
        yield Static("", id="adjustment-detail", markup=False)
        yield Static("positions of the session", classes="heading")
        yield RowTable(id="positions")
        yield Footer()

    def on_mount(self) -> None:
        self._books = Books(None, [], [], [])
        self.show(self._books)
        self.reload()

    def on_resize(self) -> None:
        """The reasons take the width there is now."""
        self.show(self._books)

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
        self._books = books
        fill(self.query_one("#tracked", RowTable), TRACKED, (
            (b.asset, {"asset": b.asset, "total": amount(b.total), "reserved": amount(b.reserved),
                       "available": amount(b.available), "version": str(b.version), "by": b.updated_by,
                       "reason": b.update_reason})
            for b in books.balances
        ), flex="reason")  # fmt: skip
        self._adjustments = {a.id: a for a in books.adjustments if a.id is not None}
        self._undone_by = undone_by(books.adjustments)
        fill(self.query_one("#adjustments", RowTable), ADJUSTMENTS, (
            (str(a.id), {"id": str(a.id), "kind": self._kind(a), "when": f"{a.created_at:%Y-%m-%d %H:%M:%S}",
                         "asset": a.asset, "before": amount(a.before), "after": amount(a.after), "by": a.operator,
                         "reason": a.reason})
            for a in reversed(books.adjustments[-SHOWN_ADJUSTMENTS:])
        ), flex="reason")  # fmt: skip
        fill(self.query_one("#positions", RowTable), POSITIONS, (
            (str(p.id), {"symbol": p.symbol, "side": p.side, "size": amount(p.size), "entry": amount(p.entry_price),
                         "status": p.status, "opened": f"{p.opened_at:%Y-%m-%d %H:%M:%S}"})
            for p in books.positions
        ))  # fmt: skip
        self._describe()

    @on(DataTable.RowHighlighted, "#adjustments")
    def _describe(self) -> None:
        """The selected adjustment in full, its reason too (the table may cut it)."""
        adjustment = self._selected()
        self.query_one("#adjustment-detail", Static).update("" if adjustment is None else described(adjustment))

    def _selected(self) -> BalanceAdjustment | None:
        table = self.query_one("#adjustments", RowTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._adjustments.get(int(key or 0))

    def _kind(self, adjustment: BalanceAdjustment) -> str:
        if adjustment.reverses_id is not None:
            return f"undoes #{adjustment.reverses_id}"
        if (by := self._undone_by.get(adjustment.id or 0)) is not None:
            return f"undone by #{by}"  # Kind is wide enough for ids up to 9999, as "#" is
        return str(adjustment.kind)

    def action_undo(self) -> None:
        """Undo the selected adjustment, once the operator gives a reason; what the store would refuse (an undo,
        an adjustment undone already) is said at once, in the store's words."""
        adjustment = self._selected()
        if adjustment is None or adjustment.id is None:
            self.notify("there is no adjustment to undo", title="Undo", severity="warning", markup=False)
            return
        if refusal := undo_refusal(adjustment, undone_by=self._undone_by.get(adjustment.id)):
            self.notify(refusal, title="Undo: refused", severity="warning", markup=False)
            return
        self.app.push_screen(NoteForm(undo_note(adjustment), partial(self._undo, adjustment.id)))
