"""Trading sessions, newest first: when each ran, how it ended, and what its books opened and closed at."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from balance_tui.core.exact import EXACT
from balance_tui.store.errors import StoreError
from balance_tui.store.sessions import SessionOverview
from balance_tui.tui.formatting import amount, signed
from balance_tui.tui.header import ConsoleHeader
from balance_tui.tui.row_table import RowTable, cells


class SessionsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,t", "app.pop_screen", "Back", id="sessions.back")]

    def __init__(self, load: Callable[[], Awaitable[list[SessionOverview]]]) -> None:
        super().__init__()
        self._load = load
        self._sessions: dict[str, SessionOverview] = {}

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield Static("reading the sessions", id="sessions-heading", classes="heading", markup=False)
        yield RowTable(id="sessions")
        yield Static("", id="balances-heading", classes="heading", markup=False)
        yield RowTable(id="session-balances")
        yield Footer()

    def on_mount(self) -> None:
        sessions = self.query_one("#sessions", RowTable)
        for label, width in (("#", 5), ("Status", 11), ("Started (UTC)", 16), ("Ended (UTC)", 16), ("Ran", 9),
                             ("Mode", 5), ("Continues", 9), ("Assets", 6), ("Adjustments", 11)):  # fmt: skip
            sessions.add_column(label, width=width)
        balances = self.query_one("#session-balances", RowTable)
        for label, width in (("Asset", 8), ("Opening", 22), ("Latest", 22), ("Change", 22)):
            balances.add_column(label, width=width)
        self.reload()

    @work(exclusive=True, group="sessions", exit_on_error=False, description="read the sessions")
    async def reload(self) -> None:
        heading = self.query_one("#sessions-heading", Static)
        try:
            found = await self._load()
        except (StoreError, SQLAlchemyError) as exc:  # shown; the screen stays
            heading.update(f"cannot read the sessions: {exc}")
            return
        heading.update(f"{len(found)} trading session(s), newest first" if found else "no trading session yet")
        self._sessions = {str(o.session.id): o for o in found}
        table = self.query_one("#sessions", RowTable)
        table.clear()
        for o in found:
            s = o.session
            table.add_row(
                *cells(str(s.id), s.status, _when(s.started_at), _when(s.ended_at), _ran(s.started_at, s.ended_at),
                        s.mode, "" if s.continues_id is None else f"#{s.continues_id}", str(len(o.balances)),
                        str(o.adjustments)),
                key=str(s.id),
            )  # fmt: skip
        if found:
            self._show_balances(found[0])

    @on(DataTable.RowHighlighted, "#sessions")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value in self._sessions:
            self._show_balances(self._sessions[event.row_key.value])

    def _show_balances(self, overview: SessionOverview) -> None:
        ended = overview.session.ended_at is not None
        self.query_one("#balances-heading", Static).update(
            f"session #{overview.session.id}: opening and {'closing' if ended else 'latest'} balances"
        )
        table = self.query_one("#session-balances", RowTable)
        table.clear()
        for b in overview.balances:
            table.add_row(
                *cells(b.asset, amount(b.opening), amount(b.total), signed(EXACT.subtract(b.total, b.opening)))
            )


def _when(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _ran(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "running"
    minutes = int((end - start).total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
