"""The Textual app: config, themes, keymap and lifecycle. The layout lives in `MainScreen`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import uuid
from contextlib import suppress
from typing import ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import HelpPanel, Input
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from balance_tui.backend import Backend, open_backend
from balance_tui.config import Config
from balance_tui.core import Clock
from balance_tui.kraken.credentials import Credentials
from balance_tui.store import books
from balance_tui.store.books import BalanceView
from balance_tui.store.errors import StoreError
from balance_tui.store.identity import Operator
from balance_tui.store.tables import BalanceAdjustment, SessionStatus, TradingSession
from balance_tui.store.watch import watch_adjustments
from balance_tui.tui.adjust_form import AdjustForm, AdjustRequest
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.books_screen import BooksScreen
from balance_tui.tui.formatting import amount
from balance_tui.tui.main_screen import MainScreen
from balance_tui.tui.themes import VARIABLE_DEFAULTS, bundled_themes

TTY_CHECK_S = 5.0


class BalanceApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Balance Console"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("b", "books", "Books", id="app.books"),
        Binding("a", "adjust", "Adjust", id="app.adjust"),
        Binding("question_mark", "toggle_help", "Keys", id="app.help"),
    ]

    class BooksLoaded(Message):
        def __init__(self, balances: list[BalanceView], adjustments: list[BalanceAdjustment]) -> None:
            super().__init__()
            self.balances = balances
            self.adjustments = adjustments

    class Adjusted(Message):
        """Adjustments written by any console (this one too), as the store reports them."""

        def __init__(self, adjustments: list[BalanceAdjustment]) -> None:
            super().__init__()
            self.adjustments = adjustments

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
        self._clock = clock
        self._backend_worker: Worker[None] | None = None
        self._ending = SessionStatus.CLOSED  # `interrupted` once the terminal is lost
        # No animations and no blinking cursor (see on_descendant_focus): each is bytes on the wire over SSH.
        # Always, not only when SSH_CONNECTION or SSH_TTY is set: tmux, screen, mosh and sudo drop those or
        # keep stale ones, and a picture should not depend on how the terminal was reached.
        self.animation_level = "none"
        for theme in bundled_themes():
            self.register_theme(theme)
        self.theme = config.ui.theme  # load_config checked it, and the [keymap] ids (balance_tui.ui_names)
        self.set_keymap(dict(config.keymap))

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Every text field of every screen (forms, the command palette) shows a steady cursor."""
        if isinstance(event.widget, Input):
            event.widget.cursor_blink = False

    def on_mount(self) -> None:
        self.sub_title = "starting"
        self._backend_worker = self.run_worker(
            self._run_backend(),
            name="backend",
            group="backend",
            exit_on_error=False,
            description="exchange feed and store",
        )
        if not self.is_headless:
            self.set_interval(TTY_CHECK_S, self._exit_if_terminal_lost)
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._terminal_lost)
            loop.add_signal_handler(signal.SIGTERM, lambda: self.call_later(self.action_quit))

    async def _run_backend(self) -> None:
        async with open_backend(self.config, self._credentials, clock=self._clock) as backend:
            try:
                self.post_message(self.BackendReady(backend))
                await backend.run()
                # The feed stopped for good and says why; keep the backend (and its session) open until quit.
                await asyncio.Event().wait()
            finally:
                backend.ending = self._ending

    def on_balance_app_backend_ready(self, message: BackendReady) -> None:
        backend = self.backend = message.backend
        opened = backend.opened
        if opened is None:
            where = " · read-only" if backend.read_only else ""
        else:
            where = f" · session #{opened.session.id} {'resumed' if opened.resumed else 'started'}"
            if opened.continued_from is not None or opened.interrupted:
                self.notify(opened.describe(), title="Session recovered", timeout=15)
        self.sub_title = f"{backend.exchange_label}{where}"
        self.refresh_bindings()
        self._watch_store()

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
        """Adjusting needs a session this console owns and a store it may write: otherwise shown disabled."""
        if action == "adjust":
            backend = self.backend
            return None if backend is None or backend.read_only or backend.session is None else True
        if action == "books":
            return None if self.backend is None or self.backend.session is None else True
        return True

    def action_books(self) -> None:
        if not isinstance(self.screen, BooksScreen):
            self.push_screen(BooksScreen())

    def action_adjust(self) -> None:
        asset = self.screen.query_one(BalancesTable).selected_asset if isinstance(self.screen, MainScreen) else ""
        self.push_screen(AdjustForm(self._read_balance, self._adjust, asset or ""), self._adjusted)

    def _adjusted(self, outcome: str | None) -> None:
        if outcome:
            self.notify(outcome, title="Adjustment written")

    async def _read_balance(self, asset: str) -> BalanceView:
        backend, session = self._owned()
        return await asyncio.to_thread(books.read_balance, backend.store, session.id, asset)

    async def _adjust(self, request: AdjustRequest) -> str | None:
        """Write one adjustment, or say why not: the form shows the reason and stays open."""
        backend, session = self._owned()
        try:
            await asyncio.to_thread(
                books.adjust,
                backend.store,
                session_id=session.id,
                asset=request.asset,
                amount=request.amount,
                kind=request.kind,
                reason=request.reason,
                operator=Operator.current(),
                idempotency_key=uuid.uuid4().hex,
                now=backend.manager.clock.now(),
                expected_version=request.seen.version,
            )
        except StoreError as exc:
            return str(exc)
        return None

    def _owned(self) -> tuple[Backend, TradingSession]:
        backend = self.backend
        if backend is None or backend.session is None:
            raise RuntimeError("adjusting needs the session this console owns")  # check_action prevents this
        return backend, backend.session

    @work(exclusive=True, group="books", exit_on_error=False, description="read the books")
    async def reload_books(self) -> None:
        backend, session = self._owned()
        balances = await asyncio.to_thread(books.read_balances, backend.store, session.id)
        adjustments = await asyncio.to_thread(books.adjustments, backend.store, session_id=session.id)
        self.post_message(self.BooksLoaded(balances, adjustments))

    def on_balance_app_books_loaded(self, message: BooksLoaded) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, BooksScreen):
                screen.show(message.balances, message.adjustments)

    @work(exclusive=True, group="store-watch", exit_on_error=False, description="follow other consoles")
    async def _watch_store(self) -> None:
        """Adjustments from any console reach this one: LISTEN/NOTIFY on PostgreSQL, a poll on SQLite."""
        backend = self.backend
        if backend is None:
            return
        seen = await asyncio.to_thread(books.adjustments, backend.store)
        async for change in watch_adjustments(backend.store, after_id=seen[-1].id if seen else 0):
            after = min(change.adjustment_ids, default=1) - 1
            new = await asyncio.to_thread(books.adjustments, backend.store, after_id=after)
            self.post_message(self.Adjusted([a for a in new if a.id in change.adjustment_ids]))

    def on_balance_app_adjusted(self, message: Adjusted) -> None:
        for adjustment in message.adjustments:
            self.notify(
                f"#{adjustment.id} {adjustment.asset} {amount(adjustment.before)} -> {amount(adjustment.after)}"
                f" by {adjustment.operator}: {adjustment.reason}",
                title="Balance adjusted",
                markup=False,
            )
        if self.backend is not None and self.backend.session is not None:
            self.reload_books()

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def _exit_if_terminal_lost(self) -> None:
        """A dropped SSH session may leave no terminal without a SIGHUP; quit rather than run on unseen."""
        if not sys.stdin.isatty():
            self._terminal_lost()

    def _terminal_lost(self) -> None:
        """SIGHUP, or no terminal any more: the operator did not quit."""
        self.run_worker(self._leave_lost_terminal(), group="exit", exclusive=True, description="terminal lost")

    async def _leave_lost_terminal(self) -> None:
        """End the session `interrupted` with its time, then leave without Textual's terminal teardown, which
        can block for ever writing to a hung-up terminal (seen with tmux kill-session)."""
        self._ending = SessionStatus.INTERRUPTED
        await self._stop_backend()
        logging.shutdown()
        os._exit(128 + signal.SIGHUP)
