"""The Textual app: config, themes, keymap and lifecycle. The layout lives in `MainScreen`."""

from __future__ import annotations

import asyncio
import sys
from contextlib import suppress
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import HelpPanel
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from balance_tui.backend import Backend, open_backend
from balance_tui.config import Config, ConfigError
from balance_tui.core import Clock
from balance_tui.kraken.credentials import Credentials
from balance_tui.tui.main_screen import MainScreen
from balance_tui.tui.themes import VARIABLE_DEFAULTS, ThemeError, bundled_themes

TTY_CHECK_S = 5.0


class BalanceApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Balance Console"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "toggle_help", "Keys", id="app.help"),
    ]

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
        for theme in bundled_themes():
            self.register_theme(theme)
        if config.ui.theme not in self.available_themes:
            raise ThemeError(
                f"[ui] theme: no theme named {config.ui.theme!r}; available: {', '.join(sorted(self.available_themes))}"
            )
        self.theme = config.ui.theme
        known = {b.id for b in self.BINDINGS if isinstance(b, Binding) and b.id}
        if unknown := sorted(config.keymap.keys() - known):
            raise ConfigError(f"[keymap] {unknown[0]}: no binding has this id; ids: {', '.join(sorted(known))}")
        self.set_keymap(dict(config.keymap))

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

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

    async def _run_backend(self) -> None:
        async with open_backend(self.config, self._credentials, clock=self._clock) as backend:
            self.post_message(self.BackendReady(backend))
            await backend.run()
            # The feed stopped for good and says why; keep the backend (and its session) open until quit.
            await asyncio.Event().wait()

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

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._backend_worker and event.state is WorkerState.ERROR:
            self.backend_error = f"backend stopped: {event.worker.error}"
            self.notify(self.backend_error, severity="error", timeout=30)

    async def action_quit(self) -> None:
        """Cancel the feed and wait for it, so the session is closed before the process exits."""
        worker = self._backend_worker
        if worker is not None and worker.is_running:
            worker.cancel()
            with suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
        self.exit()

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def _exit_if_terminal_lost(self) -> None:
        """A dropped SSH session leaves no terminal; quit cleanly rather than run on unseen."""
        if not sys.stdin.isatty():
            await self.action_quit()
