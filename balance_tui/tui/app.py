"""The Textual app: config, themes, keymap and lifecycle. The layout lives in `MainScreen`."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import select
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import suppress
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import platformdirs
from rich.segment import Segments
from textual import events, on, work
from textual.actions import SkipAction
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import DataTable, HelpPanel, Input
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from balance_tui.config import APP_NAME, Config
from balance_tui.core import Clock, SystemClock
from balance_tui.store.errors import StoreError
from balance_tui.store.identity import Operator
from balance_tui.tui import availability
from balance_tui.tui.announcements import announcements
from balance_tui.tui.badges import Badge, view_badges
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.commands import REFRESH_RATES, palette_commands
from balance_tui.tui.issues_panel import IssuesPanel
from balance_tui.tui.main_screen import MainScreen
from balance_tui.tui.themes import bundled_themes, variable_defaults
from balance_tui.view import View, news

if TYPE_CHECKING:
    from balance_tui.backend import Backend
    from balance_tui.kraken.credentials import Credentials
    from balance_tui.store import books
    from balance_tui.store.sessions import SessionOverview
    from balance_tui.store.tables import BalanceAdjustment, TradingSession, ValidationAck
    from balance_tui.tui.adjust_form import AdjustRequest, Figures
    from balance_tui.tui.asset_screen import AssetDetail
    from balance_tui.tui.books_screen import Books
    from balance_tui.tui.ledger_screen import LedgerPage

# Most of the start-up's imports are the backend's libraries (SQLAlchemy, SQLModel, Alembic, httpx, websockets),
# the store's watch (psycopg) and the screens that read the store. Nothing needs them before the backend is
# ready, so they load in a thread (`_load`): the backend and the watch (which must start as the backend is
# ready, or another console's write in between would be taken as seen) once the first frame is drawn, the
# screens once the first balances are. The methods that use them import them where they run, by then a lookup
# in sys.modules.
SCREENS = (
    "balance_tui.tui.adjust_form",
    "balance_tui.tui.asset_screen",
    "balance_tui.tui.books_screen",
    "balance_tui.tui.ledger_screen",
    "balance_tui.tui.sessions_screen",
)

TTY_CHECK_S = 5.0


class BalanceApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Balance Console"
    # Room for the main screen's feed pane as a right column beside the balances table (-wide), and for a
    # wider one (-wider).
    # Screen classes by terminal width (app.tcss): under 110 columns the details row gives up the engine
    # pane; from 160 the feed pane joins. The table fits its own columns to whatever width it gets.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-narrow"),
        (110, "-medium"),
        (160, "-wide"),
        (190, "-wider"),
    ]
    # By terminal height: from 45 rows the main screen's details row grows (a table of a dozen assets leaves
    # the room), from 50 its history pane shows by default too.
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (45, "-high"), (50, "-tall")]
    replaying: ClassVar[bool] = False  # a recording, not the backend (balance_tui/tui/replay.py)
    on_a_recording: Mapping[str, str] = MappingProxyType({})  # what a replay cannot do (availability)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "toggle_help", "Keys", id="app.help"),  # early: a narrow footer keeps it
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.interrupt"),  # as in k9s and top
        Binding("b", "books", "Books", id="app.books"),
        Binding("a", "adjust", "Adjust", id="app.adjust"),
        Binding("t", "sessions", "Sessions", id="app.sessions"),
        Binding("p", "pause", "Pause", id="app.pause"),
        Binding("r", "refresh_rate", "Refresh rate", show=False, id="app.refresh_rate"),
        Binding("l", "ledger", "Ledger", id="app.ledger"),
        # Priority: the balances table would take enter for itself. Off the main screen the binding is
        # hidden and enter goes where it would (check_action); on it, anywhere but the table (SkipAction).
        Binding("enter", "asset", "Asset", show=False, priority=True, id="app.asset"),
    ]

    badges: var[tuple[Badge, ...]] = var(())  # every screen's header shows them (tui/badges.py)
    # The app clock's second, moved on the second: the header's clock and the main screen's ages watch it, so
    # what moves by the second moves in one frame (apart, a quiet console painted twice a second).
    second: var[int] = var(0)

    class Adjusted(Message):
        """Adjustments written by any console (this one too), as the store reports them."""

        def __init__(self, adjustments: list[BalanceAdjustment]) -> None:
            super().__init__()
            self.adjustments = adjustments

    class Acknowledged(Message):
        """Acknowledgements of validation issues, by any console (this one too), as the store reports them;
        `announce` is False for those read at start."""

        def __init__(self, acks: list[ValidationAck], *, announce: bool = True) -> None:
            super().__init__()
            self.acks = acks
            self.announce = announce

    class BackendReady(Message):
        """The backend worker has everything running; the UI may start reading it."""

        def __init__(self, backend: Backend) -> None:
            super().__init__()
            self.backend = backend

    def __init__(self, config: Config, credentials: Credentials | None = None, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.config = config
        self.backend: Backend | None = None
        self.backend_error = ""
        self._credentials = credentials
        self.clock: Clock = clock or SystemClock()
        self.paused = False  # repainting stopped by the operator; the feed and the books carry on
        self.refresh_hz = config.ui.refresh_hz
        self._where = "starting"  # what the console is connected to, for the header
        self._view_badges: tuple[Badge, ...] = ()  # the feed's state and the figures' source, as last drawn
        self._backend_worker: Worker[None] | None = None
        self._interrupted = False  # the terminal was lost: the session ends `interrupted`, not `closed`
        self._own_keys: set[str] = set()  # idempotency keys of the adjustments this console wrote: it announces them
        # No animations and no blinking cursor (see on_descendant_focus): each is bytes on the wire over SSH.
        # Always, not only when SSH_CONNECTION or SSH_TTY is set: tmux, screen, mosh and sudo drop those or
        # keep stale ones, and a picture should not depend on how the terminal was reached.
        self.animation_level = "none"
        for theme in bundled_themes():
            self.register_theme(theme)
        self.theme = config.ui.theme  # load_config checked it, and the [keymap] ids (balance_tui.ui_names)
        self.set_keymap(dict(config.keymap))

    def _fatal_error(self) -> None:
        """Textual's crash report, without the local variables it prints by default: a frame that signs a
        request holds the raw API key and signature, and the report goes to the terminal unredacted."""
        from rich.traceback import Traceback

        self.bell()
        report = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(Segments(self.console.render(report, self.console.options)))
        self._close_messages_no_wait()

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Every text field of every screen (forms, the command palette) shows a steady cursor."""
        if isinstance(event.widget, Input):
            event.widget.cursor_blink = False

    def on_mount(self) -> None:
        self._show_state()
        self._next_second()
        self.start()
        if not self.is_headless:
            self.set_interval(TTY_CHECK_S, self._exit_if_terminal_lost)
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._terminal_lost)
            loop.add_signal_handler(signal.SIGTERM, lambda: self.call_later(self.action_quit))

    def _next_second(self) -> None:
        now = self.clock.now()
        self.second = int(now.timestamp())
        self.set_timer(1 - now.microsecond / 1_000_000, self._next_second)

    def start(self) -> None:
        """Start what the main screen reads: the backend (a replay reads its recording instead)."""
        self._backend_worker = self.run_worker(
            self._run_backend(),
            name="backend",
            group="backend",
            exit_on_error=False,
            description="exchange feed and store",
        )

    def view_news(self, selected: str | None) -> object:
        """What the main screen compares from tick to tick: while it stands, the tick reads and paints nothing
        (`balance_tui.view.news`); before the backend is ready, something new every tick."""
        return object() if self.backend is None else news(self.backend, selected)

    def read_view(self, selected: str | None, previous: View | None) -> View | None:
        """What the main screen paints this tick; None until the backend is ready."""
        return None if self.backend is None else View.read(self.backend, selected, previous)

    def announcements(self, previous: View | None, view: View) -> list[Message]:
        """What happened between two ticks, for the main screen to announce once."""
        return announcements(previous, view)

    async def _run_backend(self) -> None:
        await self.screen.wait_for_refresh()  # the first frame first: the imports would share the GIL with it
        await asyncio.to_thread(_load, "balance_tui.backend", "balance_tui.store.watch")
        from balance_tui.backend import open_backend
        from balance_tui.store.tables import SessionStatus

        async with open_backend(self.config, self._credentials, clock=self.clock) as backend:
            try:
                self.post_message(self.BackendReady(backend))
                await backend.run()
                # The feed stopped for good and says why; the engine carries on over REST (the figures,
                # validation), and the backend (and its session) stays open until quit.
                await backend.manager.run()
            finally:
                backend.ending = SessionStatus.INTERRUPTED if self._interrupted else SessionStatus.CLOSED

    def on_balance_app_backend_ready(self, message: BackendReady) -> None:
        backend = self.backend = message.backend
        opened = backend.opened
        self._where = backend.exchange_label
        if opened is not None:
            self._where += f" · session #{opened.session.id} {'resumed' if opened.resumed else 'started'}"
            if opened.continued_from is not None or opened.interrupted:
                self.notify(opened.describe(), title="Session recovered", timeout=15)
        self._show_state()
        self.refresh_bindings()
        self._watch_store()
        self._draw_first_balances(backend)

    @work(group="first-balances", exit_on_error=False, description="draw the first snapshot")
    async def _draw_first_balances(self, backend: Backend) -> None:
        """The first snapshot is drawn as it lands, not at the next refresh tick (up to 1 / refresh_hz later);
        then the screens load."""
        await backend.manager.wait_for_snapshot()
        if isinstance(self.screen, MainScreen):
            self.screen.refresh_view()
        await self.screen.wait_for_refresh()
        await asyncio.to_thread(_load, *SCREENS)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._backend_worker and event.state is WorkerState.ERROR:
            self.backend_error = f"backend stopped: {event.worker.error}"
            self.notify(self.backend_error, severity="error", timeout=30)

    async def action_quit(self) -> None:
        await self._stop_backend()
        self.exit()

    async def _stop_backend(self) -> None:
        """Cancel the feed and wait for it, so the session is closed before the process exits."""
        worker = self._backend_worker
        if worker is not None and worker.is_running:
            worker.cancel()
            with suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The asset key is the main screen's; the rest follow `availability`: a key that cannot run now is
        shown disabled, and pressing it says why (`on_key`)."""
        if action == "asset" and not isinstance(self.screen, MainScreen):
            return False
        return availability.check(self, action)

    def on_key(self, event: events.Key) -> None:
        """A disabled key says why, rather than doing nothing."""
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        action, node = active.binding.action, active.node
        why = (
            node.unavailable(action)
            if isinstance(node, availability.Explains)
            else availability.unavailable(self, action)
        )
        if why:
            self.notify(why, title=f"{active.binding.description}: not available", severity="warning", markup=False)

    def action_books(self) -> None:
        from balance_tui.tui.books_screen import BooksScreen

        if not isinstance(self.screen, BooksScreen) and (load := self.books_loader()) is not None:
            self.push_screen(BooksScreen(load, self._undo))

    def books_loader(self) -> Callable[[], Awaitable[Books]] | None:
        """What the books screen reads: this console's session; for a read-only console, the exchange's
        latest session, as it stands (a replay: its recording's as of the cursor)."""
        from balance_tui.tui.books_screen import read_books

        backend = self.backend
        if backend is None:
            return None
        return partial(asyncio.to_thread, read_books, backend.store, backend.config.exchange.name, backend.session)

    def action_sessions(self) -> None:
        from balance_tui.tui.sessions_screen import SessionsScreen

        if not isinstance(self.screen, SessionsScreen) and (load := self.sessions_loader()) is not None:
            self.push_screen(SessionsScreen(load))

    def sessions_loader(self) -> Callable[[], Awaitable[list[SessionOverview]]] | None:
        """What the sessions screen reads: the store's sessions of this exchange (a replay: its recording's)."""
        from balance_tui.store import sessions

        backend = self.backend
        if backend is None:
            return None
        return partial(asyncio.to_thread, sessions.overview, backend.store, backend.config.exchange.name)

    def action_ledger(self) -> None:
        from balance_tui.tui.ledger_screen import LedgerScreen

        if not isinstance(self.screen, LedgerScreen) and (load := self.ledger_loader()) is not None:
            self.push_screen(LedgerScreen(load))

    def ledger_loader(self) -> Callable[[LedgerPage | None], Awaitable[LedgerPage]] | None:
        """What the ledger screen reads: the store (a replay: its recording); None before the backend is ready."""
        from balance_tui.tui.ledger_screen import read_ledger

        return None if self.backend is None else partial(read_ledger, self.backend)

    def asset_loader(self) -> Callable[[str, int], Awaitable[AssetDetail]] | None:
        """What the asset screen reads: the store and the engine (a replay: its recording)."""
        from balance_tui.tui.asset_screen import read_asset

        return None if self.backend is None else partial(read_asset, self.backend)

    def action_asset(self) -> None:
        """The selected asset's screen, when the balances table has the focus (else enter is the focused
        widget's: a filter's, a button's)."""
        table = self.screen.query_one(BalancesTable) if isinstance(self.screen, MainScreen) else None
        if table is None or self.focused is not table or table.selected_asset is None:
            raise SkipAction()
        self.open_asset(table.selected_asset)

    @on(DataTable.RowSelected, "#balances")
    def _balance_clicked(self, event: DataTable.RowSelected) -> None:
        """A click on the highlighted row opens its asset too."""
        self.open_asset(str(event.row_key.value))

    def open_asset(self, asset: str) -> None:
        from balance_tui.tui.asset_screen import AssetScreen

        if (load := self.asset_loader()) is not None:
            self.push_screen(AssetScreen(asset, load))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every screen and action in the palette too, each only where its key would work (tui/commands.py)."""
        return palette_commands(self, screen)

    def action_adjust(self) -> None:
        from balance_tui.tui.adjust_form import AdjustForm

        asset = self.screen.query_one(BalancesTable).selected_asset if isinstance(self.screen, MainScreen) else ""
        self.push_screen(AdjustForm(self._read_balance, self._adjust, asset or ""))

    async def _read_balance(self, asset: str) -> Figures:
        from balance_tui.store import books
        from balance_tui.tui.adjust_form import Figures

        backend, session = self._owned()
        tracked = await asyncio.to_thread(books.read_balance, backend.store, session.id, asset)
        decimals = await asyncio.to_thread(books.asset_decimals, backend.store)
        return Figures(tracked, backend.manager.get_balance(asset), decimals.get(asset))

    async def _adjust(self, request: AdjustRequest) -> StoreError | None:
        """Write one adjustment and announce it, or say why not: the form shows the reason and stays open."""
        from balance_tui.store import books

        return await self._write(
            books.adjust,
            asset=request.asset,
            amount=request.amount,
            kind=request.kind,
            reason=request.reason,
            expected_version=books.confirmed_version(request.kind, request.seen),
        )

    async def _undo(self, adjustment_id: int, reason: str) -> str | None:
        """Write the reversing entry of an adjustment and announce it, or say why not (the confirm shows it)."""
        from balance_tui.store import books

        refused = await self._write(books.undo, adjustment_id=adjustment_id, reason=reason)
        return None if refused is None else str(refused)

    async def _write(self, write: Callable[..., books.AdjustmentResult], **fields: object) -> StoreError | None:
        """One write to the books by this console's operator, announced once; the store's refusal otherwise."""
        backend, session = self._owned()
        key = uuid.uuid4().hex
        self._own_keys.add(key)  # before writing: the store's watch may report it before the write returns
        try:
            result = await asyncio.to_thread(
                partial(
                    write,
                    backend.store,
                    session_id=session.id,
                    operator=Operator.current(),
                    idempotency_key=key,
                    now=backend.manager.clock.now(),
                    **fields,
                )
            )
        except StoreError as exc:
            return exc
        self._announce([result.adjustment])
        return None

    def _owned(self) -> tuple[Backend, TradingSession]:
        backend = self.backend
        if backend is None or backend.session is None:
            raise RuntimeError("adjusting needs the session this console owns")  # check_action prevents this
        return backend, backend.session

    @work(exclusive=True, group="store-watch", exit_on_error=False, description="follow other consoles")
    async def _watch_store(self) -> None:
        """Adjustments and acknowledgements from any console reach this one: LISTEN/NOTIFY on PostgreSQL, a
        poll on SQLite. The acknowledgements are read first, then watched from the last one read: none is
        missed in between."""
        from sqlalchemy.exc import SQLAlchemyError

        from balance_tui.store import acks, books
        from balance_tui.store.watch import Seen, watch_store

        backend = self.backend
        if backend is None:
            return
        seen = await asyncio.to_thread(books.adjustments, backend.store)
        try:
            known = list((await asyncio.to_thread(acks.acknowledgements, backend.store)).values())
        except (StoreError, SQLAlchemyError) as exc:  # said; the issues pane shows every issue meanwhile
            self.notify(f"cannot read acknowledged issues: {exc}", title="Validation", severity="error", markup=False)
            known = []
        self.post_message(self.Acknowledged(known, announce=False))
        after = Seen(seen[-1].id if seen else 0, max((a.id or 0 for a in known), default=0))
        async for change in watch_store(backend.store, after=after):
            if change.adjustment_ids:
                since = min(change.adjustment_ids) - 1
                new = await asyncio.to_thread(books.adjustments, backend.store, after_id=since)
                self.post_message(self.Adjusted([a for a in new if a.id in change.adjustment_ids]))
            if change.ack_ids:
                since = min(change.ack_ids) - 1
                added = await asyncio.to_thread(acks.acknowledgements_after, backend.store, since)
                self.post_message(self.Acknowledged([a for a in added if a.id in change.ack_ids]))

    def on_balance_app_acknowledged(self, message: Acknowledged) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.query_one(IssuesPanel).acknowledged(message.acks, announce=message.announce)

    def on_balance_app_adjusted(self, message: Adjusted) -> None:
        self._announce([a for a in message.adjustments if a.idempotency_key not in self._own_keys])

    def _announce(self, adjustments: list[BalanceAdjustment]) -> None:
        """One notice per adjustment, whoever wrote it; the books on screen follow."""
        from balance_tui.tui.books_screen import BooksScreen, described

        for adjustment in adjustments:
            undo = adjustment.reverses_id is not None
            self.notify(described(adjustment), title="Adjustment undone" if undo else "Balance adjusted", markup=False)
        if adjustments:
            for screen in self.screen_stack:
                if isinstance(screen, BooksScreen):
                    screen.reload()

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Into the data directory unless told otherwise: servers seldom have the ~/Downloads Textual uses."""
        folder = Path(path or Path(platformdirs.user_data_dir(APP_NAME)) / "screenshots")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(f"cannot save in {folder}: {exc.strerror}", title="Screenshot", severity="error", markup=False)
            return None
        return super().deliver_screenshot(filename, str(folder), time_format)

    def action_pause(self) -> None:
        """Freeze the picture to read it; nothing is lost: the next repaint shows the state as it is then."""
        self.paused = not self.paused
        self._show_state()

    def action_refresh_rate(self) -> None:
        """The next rate of REFRESH_RATES (2-10 Hz): slower over a thin link, faster to watch a burst."""
        faster = [hz for hz in REFRESH_RATES if hz > self.refresh_hz]
        self.set_refresh_hz(faster[0] if faster else REFRESH_RATES[0])

    def set_refresh_hz(self, hz: int) -> None:
        self.refresh_hz = hz
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.set_refresh_hz(hz)
        self._show_state()

    def show_view_badges(self, view: View) -> None:
        """The main screen drew `view`: the badges it implies follow."""
        badges = view_badges(view)
        if badges != self._view_badges:
            self._view_badges = badges
            self._show_state()

    def _show_state(self) -> None:
        """The header: where the console is connected, then its badges, one line each."""
        self.sub_title = self._where
        shown = (
            (self.replaying, Badge("REPLAY", "secondary")),
            (self.paused, Badge("PAUSED", "warning")),
            (self.backend is not None and self.backend.read_only, Badge("READ-ONLY", "accent")),
            *((True, badge) for badge in self._view_badges),
            (True, Badge(f"{self.refresh_hz} Hz", "muted")),
        )
        self.badges = tuple(badge for on, badge in shown if on)

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def _exit_if_terminal_lost(self) -> None:
        """A dropped SSH session may leave no terminal without a SIGHUP; quit rather than run on unseen.

        Served to a browser (`balance-tui serve`), stdin is the server's pipe, never a terminal: the server
        is gone (killed; a clean stop quits its consoles) once that pipe has hung up."""
        if _hung_up(sys.stdin.fileno()) if self.is_web else not sys.stdin.isatty():
            self._terminal_lost()

    def _terminal_lost(self) -> None:
        """SIGHUP, or no terminal any more: the operator did not quit."""
        self.run_worker(self._leave_lost_terminal(), group="exit", exclusive=True, description="terminal lost")

    async def _leave_lost_terminal(self) -> None:
        """End the session `interrupted` with its time, then leave without Textual's terminal teardown, which
        can block for ever writing to a hung-up terminal (seen with tmux kill-session)."""
        self._interrupted = True
        await self._stop_backend()
        logging.shutdown()
        os._exit(128 + signal.SIGHUP)


def _load(*modules: str) -> None:
    """Import modules the first frame did without; in a thread, so the event loop draws on meanwhile."""
    for name in modules:
        importlib.import_module(name)


def _hung_up(fd: int) -> bool:
    """The other end of the pipe `fd` has gone (or `fd` is closed); nothing is read from it."""
    poller = select.poll()
    poller.register(fd, 0)  # POLLHUP, POLLERR and POLLNVAL are reported whatever is asked for
    return any(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, events in poller.poll(0))
