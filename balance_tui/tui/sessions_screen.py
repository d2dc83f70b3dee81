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
from balance_tui.tui.row_table import Column, RowTable, fill

# Each column as wide as its widest value: an amount never loses a digit.
SESSIONS: tuple[Column, ...] = (("id", "#", True), ("status", "Status", False), ("started", "Started (UTC)", False),
    ("ended", "Ended (UTC)", False), ("ran", "Ran", True), ("mode", "Mode", False), ("continues", "Continues", False),
    ("assets", "Assets", True), ("adjustments", "Adjustments", True))  # fmt: skip
BALANCES: tuple[Column, ...] = (("asset", "Asset", False), ("opening", "Opening", True), ("latest", "Latest", True),
    ("change", "Change", True))  # fmt: skip


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
        fill(self.query_one("#sessions", RowTable), SESSIONS, [])
        fill(self.query_one("#session-balances", RowTable), BALANCES, [])
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
        fill(self.query_one("#sessions", RowTable), SESSIONS, ((str(o.session.id), _cells(o)) for o in found))
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
        fill(self.query_one("#session-balances", RowTable), BALANCES, (
            (b.asset, {"asset": b.asset, "opening": amount(b.opening), "latest": amount(b.total),
                       "change": signed(EXACT.subtract(b.total, b.opening))})
            for b in overview.balances
        ))  # fmt: skip


def _cells(overview: SessionOverview) -> dict[str, str]:
    s = overview.session
    return {
        "id": str(s.id),
        "status": s.status,
        "started": _when(s.started_at),
        "ended": _when(s.ended_at),
        "ran": _ran(s.started_at, s.ended_at),
        "mode": s.mode,
        "continues": "" if s.continues_id is None else f"#{s.continues_id}",
        "assets": str(len(overview.balances)),
        "adjustments": str(overview.adjustments),
    }


def _when(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _ran(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "running"
    minutes = int((end - start).total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
