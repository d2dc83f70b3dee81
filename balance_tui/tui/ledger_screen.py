"""The ledger of a trading session, newest first: every deposit, withdrawal, trade leg and reward the feed
reported and the store kept, filtered by asset and type, the legs of one trade (one `ref_id`) together.

The screen draws a `LedgerPage` from its `load(previous)`: the live console's reads the store's new rows
since `previous` only; a replay's reads the recording as of its cursor (tui/replay_screens.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Select, Static

from balance_tui.backend import Backend
from balance_tui.kraken.assets import asset_code
from balance_tui.recording import RecordingError
from balance_tui.store import sessions
from balance_tui.store.errors import StoreError
from balance_tui.store.history import Ledger, ledger
from balance_tui.store.tables import LedgerEntryRecord
from balance_tui.tui.formatting import amount, signed
from balance_tui.tui.header import ConsoleHeader
from balance_tui.tui.row_table import Column, FittedTable

SHOWN_ENTRIES = 2000  # the newest; the heading says how many more the session has
POLL_S = 2.0  # the store is read again this often while the screen is open: the feed keeps writing


@dataclass(frozen=True, slots=True, eq=False)
class LedgerPage:
    """What the screen shows: whose ledger and from where (the heading says both), and its newest entries.
    Compared by identity: a read that found nothing new gives back the page it was given."""

    scope: str | None  # "session #3 (active) since 2026-11-20 12:00 UTC"; None: no session yet
    origin: str  # "from the store", "in the recording"
    ledger: Ledger
    session_id: int | None = None  # a live read goes on from this page while it is the same session's
    last_id: int = 0  # the newest stored entry read (ids grow as entries are stored)


FROM_THE_STORE = "from the store"
# The first column is the glyph that ties the legs of one trade together.
COLUMNS: tuple[Column, ...] = (
    ("legs", "", False),
    ("when", "When (UTC)", False),
    ("type", "Type", False),
    ("asset", "Asset", False),
    ("amount", "Amount", True),
    ("fee", "Fee", True),
    ("balance", "Balance after", True),
    ("ref", "Ref", False),
    ("wallet", "Wallet", False),
)
# Left out first to last where the table is wider than the screen, shown for the selected entry under it: the
# amount and balance after always show, whole.
GIVE_WAY = ("wallet", "ref", "fee", "when", "type")


async def read_ledger(backend: Backend, previous: LedgerPage | None) -> LedgerPage:
    """This console's session, or for one that owns none (read-only, observer) the exchange's latest; of a
    session read before, only the entries stored since (`previous` itself when there are none)."""
    session = backend.session
    if session is None:
        latest = await asyncio.to_thread(sessions.latest, backend.store, backend.config.exchange.name, 1)
        session = latest[0] if latest else None
    if session is None:
        return LedgerPage(None, FROM_THE_STORE, Ledger([], 0))
    scope = f"session #{session.id} ({session.status}) since {session.started_at:%Y-%m-%d %H:%M} UTC"
    known = previous if previous is not None and previous.session_id == session.id else None
    after = 0 if known is None else known.last_id
    read = await asyncio.to_thread(
        ledger, backend.store, since=session.started_at, until=session.ended_at, limit=SHOWN_ENTRIES, after_id=after
    )
    if known is not None:
        if not read.entries and known.scope == scope:
            return known
        read = _merged(known.ledger, read)
    last = max((entry.id or 0 for entry in read.entries), default=after)
    return LedgerPage(scope, FROM_THE_STORE, read, session.id, max(last, after))


def _merged(known: Ledger, new: Ledger) -> Ledger:
    """`new` entries (stored since) among the `known`, newest first, the newest SHOWN_ENTRIES kept."""
    entries = sorted([*new.entries, *known.entries], key=lambda e: (e.occurred_at, e.id or 0), reverse=True)
    return Ledger(entries[:SHOWN_ENTRIES], known.total + new.total)


def grouped(entries: Sequence[LedgerEntryRecord]) -> list[tuple[str, LedgerEntryRecord]]:
    """Entries newest first, the legs of one `ref_id` brought together where its newest leg is, each with
    the glyph that ties them: ┌ first leg, ├ middle, └ last, blank for an entry on its own."""
    groups: dict[str, list[LedgerEntryRecord]] = {}
    for entry in entries:
        groups.setdefault(entry.ref_id or entry.ledger_id, []).append(entry)
    rows = []
    for legs in groups.values():
        for i, leg in enumerate(legs):
            glyph = " " if len(legs) == 1 else "┌" if i == 0 else "└" if i == len(legs) - 1 else "├"
            rows.append((glyph, leg))
    return rows


def matches(entry: LedgerEntryRecord, asset: str, kind: str | None) -> bool:
    """`asset` as typed (any case, a prefix, or a Kraken name such as xbt); `kind` a ledger type or None."""
    typed = asset.strip().upper()
    if typed and not (entry.asset.startswith(typed) or entry.asset == asset_code(typed)):
        return False
    return kind is None or entry.type == kind


def entry_rows(rows: Sequence[tuple[str, LedgerEntryRecord]]) -> list[tuple[str, dict[str, str]]]:
    """(glyph, entry) pairs as `fill` takes them, keyed by the entry's id."""
    return [(str(entry.id), _values(glyph, entry)) for glyph, entry in rows]


def _values(glyph: str, entry: LedgerEntryRecord) -> dict[str, str]:
    return {
        "legs": glyph,
        "when": f"{entry.occurred_at:%Y-%m-%d %H:%M:%S}",
        "type": entry.type,
        "asset": entry.asset,
        "amount": signed(entry.amount),
        "fee": amount(entry.fee),
        "balance": amount(entry.balance),
        "ref": entry.ref_id,
        "wallet": f"{entry.wallet_type}/{entry.wallet_id}",
    }


class AssetFilter(Input):
    """Esc clears what is typed; with nothing typed it goes on to the screen (back)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear_filter", "Clear filter", id="ledger.clear")]

    def action_clear_filter(self) -> None:
        if not self.value:
            raise SkipAction()
        self.value = ""


class TypeFilter(Select[str]):
    """Esc shows every type again; with every type shown it goes on to the screen (back)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear_filter", "Clear filter", id="ledger.clear")]

    def action_clear_filter(self) -> None:
        if self.is_blank():
            raise SkipAction()
        self.clear()


class LedgerScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,l", "app.pop_screen", "Back", id="ledger.back"),
        Binding("slash", "filter", "Filter", id="ledger.filter"),
    ]

    def __init__(self, load: Callable[[LedgerPage | None], Awaitable[LedgerPage]]) -> None:
        """`load(previous)` reads the page to show, given the one shown (None at first)."""
        super().__init__()
        self._load = load
        self._read: LedgerPage | None = None
        self._drawn: tuple[object, ...] | None = None  # what the table shows: entries and filter
        self._types: list[str] = []  # what the type filter offers

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield Static("reading the ledger", id="ledger-heading", classes="heading", markup=False)
        with Horizontal(id="ledger-filter"):
            yield AssetFilter(placeholder="asset: BTC, xbt, u...", id="asset-filter")
            yield TypeFilter([], prompt="every type", id="type-filter")
        yield FittedTable(COLUMNS, give_way=GIVE_WAY, id="ledger")
        yield Static("", id="ledger-detail", classes="left-out", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ledger", FittedTable).focus()
        self.reload()
        self.set_interval(POLL_S, self.reload)

    def action_filter(self) -> None:
        self.query_one(AssetFilter).focus()

    @on(Input.Submitted, "#asset-filter")
    def _submitted(self) -> None:
        self.query_one("#ledger", FittedTable).focus()

    @on(DataTable.RowHighlighted, "#ledger")
    @on(FittedTable.Refitted, "#ledger")
    def _detail(self) -> None:
        """The selected entry's figures in the columns left out for want of width."""
        self.query_one("#ledger", FittedTable).show_left_out(self.query_one("#ledger-detail", Static))

    @on(Input.Changed, "#asset-filter")
    @on(Select.Changed, "#type-filter")
    def _filter_changed(self) -> None:
        self._draw()

    @work(exclusive=True, group="ledger", exit_on_error=False, description="read the ledger")
    async def reload(self) -> None:
        """Read what is new in the ledger; a failed read is said in the heading, and what was shown stays."""
        try:
            page = await self._load(self._read)
        except (StoreError, SQLAlchemyError, RecordingError) as exc:  # a replay reads its recording
            self.query_one("#ledger-heading", Static).update(f"cannot read the ledger: {exc}")
            self._drawn = None  # drawn again (heading too) once a read succeeds
            return
        if page is self._read and self._drawn is not None:
            return
        self._read = page
        self._offer_types(page.ledger.entries)
        self._draw()

    def _offer_types(self, entries: Sequence[LedgerEntryRecord]) -> None:
        """The type filter offers the types the session has; the one chosen stays chosen."""
        types = sorted({e.type for e in entries})
        if types != self._types:
            self._types = types
            select = self.query_one(TypeFilter)
            chosen = select.value
            select.set_options((t, t) for t in types)
            if chosen in types:
                select.value = chosen

    def _draw(self) -> None:
        if self._read is None:
            return
        page = self._read
        typed = self.query_one(AssetFilter).value
        kind = self.query_one(TypeFilter).value
        kind = None if kind is Select.NULL else str(kind)
        key = (page, typed, kind)
        if key == self._drawn:
            return
        self._drawn = key
        shown = [e for e in page.ledger.entries if matches(e, typed, kind)]
        self.query_one("#ledger-heading", Static).update(_heading(page, len(shown), typed, kind))
        self.query_one("#ledger", FittedTable).show(entry_rows(grouped(shown)))


def _heading(page: LedgerPage, shown: int, typed: str, kind: str | None) -> str:
    if page.scope is None:
        return "no trading session yet: the ledger lists the entries of one"
    read = page.ledger
    text = f"{page.scope}: {read.total} ledger entr{'y' if read.total == 1 else 'ies'} {page.origin}, newest first"
    if read.total > len(read.entries):
        text += f" (the newest {len(read.entries)} here)"
    filters = [f for f in (f"asset {typed.strip()}" if typed.strip() else "", f"type {kind}" if kind else "") if f]
    if filters:
        text += f"  ·  {shown} with {' and '.join(filters)}"
    return text
