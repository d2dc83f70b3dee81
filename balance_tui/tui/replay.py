"""Replay (`balance-tui replay FILE`): the console on a recording, at a cursor the operator moves.

The same app and main screen as the live console: `read_view` gives the recording's view at the cursor
instead of the backend's, and the cursor is the app's clock, so the header and every age read the
recording's time. The asset, ledger, books and sessions screens read the recording as of the cursor
(tui/replay_screens.py), the books and sessions again as the cursor passes a change of them. What writes to
the store (an adjustment, an undo, an acknowledgement) is shown disabled, and says why when pressed.
Playing at the end of a file a recorder is still writing follows it: the end moves as frames come.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from itertools import groupby
from typing import ClassVar

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from balance_tui.config import Config
from balance_tui.recording import Recording
from balance_tui.recording.events import EventKind, RecordedEvent
from balance_tui.store.sessions import SessionOverview
from balance_tui.tui import availability
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.asset_screen import AssetDetail
from balance_tui.tui.balances_table import FADE_STEP, FADE_STEPS
from balance_tui.tui.books_screen import Books, BooksScreen
from balance_tui.tui.header import ConsoleClock
from balance_tui.tui.ledger_screen import LedgerPage
from balance_tui.tui.main_screen import SHOWN_CHANGES, MainScreen
from balance_tui.tui.replay_cursor import JumpError, ReplayCursor
from balance_tui.tui.replay_screens import (
    read_recorded_asset,
    read_recorded_books,
    read_recorded_ledger,
    read_recorded_sessions,
)
from balance_tui.tui.sessions_screen import SessionsScreen
from balance_tui.tui.time_bar import TimeBar
from balance_tui.view import View

ANNOUNCED = {  # what a replay announces as the cursor passes it (feed events are in the feed pane already)
    EventKind.ADJUSTMENT: ("Balance adjusted", "information"),
    EventKind.ACKNOWLEDGEMENT: ("Issue acknowledged", "information"),
    EventKind.BLIND_CHANGE: ("Changed while the feed was down", "warning"),
    EventKind.SESSION_LOST: ("Session taken over", "error"),
    EventKind.RECORDING: ("Recording", "information"),
}
MOST_NOTICES = 3  # a fast play past many events sums up the rest in one notice


class ReplayScreen(MainScreen):
    """The main screen with the time bar above the footer. The feed pane ends above the bar, so the panes
    have the sizes they had live in a terminal one row shorter."""

    def __init__(self, time_bar: TimeBar) -> None:
        super().__init__()
        self._time_bar = time_bar

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield self._time_bar


class ReplayApp(BalanceApp):
    replaying = True
    # App CSS, not the screen's DEFAULT_CSS: it must win over app.tcss's margin for the pane. Under 110
    # columns the time bar leaves out what was recorded (the header says it) for the progress bar.
    CSS = """
    ReplayScreen #feed-pane { margin: 1 0 2 0; }
    ReplayScreen.-narrow #replay-label { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "play", "Play/pause", show=False, id="replay.play"),
        Binding("comma", "step(-1)", "Previous frame", show=False, key_display=",", id="replay.back"),
        Binding("full_stop", "step(1)", "Next frame", show=False, key_display=".", id="replay.forward"),
        Binding("left_square_bracket", "minutes(-1)", "Minute back", show=False, key_display="[",
                id="replay.minute_back"),
        Binding("right_square_bracket", "minutes(1)", "Minute on", show=False, key_display="]",
                id="replay.minute_forward"),
        Binding("g", "go", "Go to time", show=False, id="replay.go"),
        Binding("plus", "speed(1)", "Faster", show=False, key_display="+", id="replay.faster"),
        Binding("minus", "speed(-1)", "Slower", show=False, key_display="-", id="replay.slower"),
        # Priority: the tables take home and end for their first and last rows; a text field keeps them.
        Binding("home", "home", "Start of the recording", show=False, priority=True, id="replay.start"),
        Binding("end", "finish", "End of the recording", show=False, priority=True, id="replay.end"),
    ]  # fmt: skip

    def __init__(self, config: Config, recording: Recording, *, wall: Callable[[], float] = time.monotonic) -> None:
        self.cursor = ReplayCursor(recording)
        super().__init__(config, clock=self.cursor)
        self.recording = recording
        self.on_a_recording = availability.on_a_recording(recording.screens_missing, recording.books_missing)
        self._where = f"{recording.meta.exchange_label} · recording {recording.path.name}"
        self._wall = wall  # seconds, for how far a tick plays: speed x the wall time since the last
        self._played_at = 0.0
        self._view: View | None = None  # the recording's view at the cursor, as last read
        self._books_at = self.cursor.at  # the cursor when the books screens were last brought up to it

    def get_default_screen(self) -> ReplayScreen:
        return ReplayScreen(TimeBar(self.cursor, self.recording.meta.exchange_label))

    def start(self) -> None:
        """Nothing to start: the recording is read as the cursor moves."""

    @property
    def time_bar(self) -> TimeBar:
        return self.screen_stack[0].query_one(TimeBar)

    def view_news(self, selected: str | None) -> object:
        """Every tick reads the recording: playing moves the cursor, and a read at a standing cursor is cheap."""
        return object()

    def read_view(self, selected: str | None, previous: View | None) -> View | None:
        """The recording at the cursor; each tick while playing first moves the cursor on."""
        if self.cursor.playing:
            wall, before, following = self._wall(), self.cursor.at, self.cursor.following
            self.cursor.advance(wall - self._played_at)
            self._played_at = wall
            self._moved(before)
            ended = self.recording.meta.ended_at
            if following and ended is not None:  # the recorder stopped after its last frame: say so
                self._announce_recorded(self.recording.events_between(self.cursor.at, ended))
        if self._view is None or self._view.now != self.cursor.at:
            self._view = self.recording.view_at(self.cursor.at)
        return self._view.reselect(selected)

    def announcements(self, previous: View | None, view: View) -> list[Message]:
        """None from comparing views (a step back or a jump would announce again); what the recording
        announced is notified as the cursor passes it (`_moved`)."""
        return []

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "asset":
            return False  # enter goes to the focused widget: a row the table selects says why (open_asset)
        return super().check_action(action, parameters)

    def open_asset(self, asset: str) -> None:
        if why := availability.unavailable(self, "asset"):
            self.notify(why, title="Asset: not available", severity="warning", markup=False)
        else:
            super().open_asset(asset)

    def ledger_loader(self) -> Callable[[LedgerPage | None], Awaitable[LedgerPage]]:
        return partial(read_recorded_ledger, self.recording, self.cursor)

    def asset_loader(self) -> Callable[[str, int], Awaitable[AssetDetail]]:
        return partial(read_recorded_asset, self.recording, self.cursor)

    def books_loader(self) -> Callable[[], Awaitable[Books]]:
        return partial(read_recorded_books, self.recording, self.cursor)

    def sessions_loader(self) -> Callable[[], Awaitable[list[SessionOverview]]]:
        return partial(read_recorded_sessions, self.recording, self.cursor)

    # The keys.

    def action_play(self) -> None:
        self.cursor.play()
        self._played_at = self._wall()
        self._repaint()

    def action_step(self, frames: int) -> None:
        self._step(partial(self.cursor.step, frames))

    def action_minutes(self, minutes: int) -> None:
        self._step(partial(self.cursor.step_minutes, minutes))

    def _step(self, move: Callable[[], bool]) -> None:
        """A step announces what it passes, as playing does; one that cannot move rings the bell."""
        before = self.cursor.at
        if not move():
            self.bell()
        self._moved(before)
        self._repaint()

    def action_speed(self, steps: int) -> None:
        if not self.cursor.faster(steps):
            self.bell()  # already 1x or 60x
        self._repaint()

    def action_go(self) -> None:
        """The jump field is on the time bar, which only the main screen shows: from a screen above it
        (books, ledger, an asset), go back to it first, or the field would open out of sight."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.call_after_refresh(self.time_bar.open_jump)

    def on_time_bar_jump(self, message: TimeBar.Jump) -> None:
        try:
            self.cursor.jump(message.text)
        except JumpError as exc:
            self.time_bar.fail(str(exc))
            return
        self.time_bar.action_close_jump()
        self._repaint()  # a jump passes what it skips over unannounced

    def action_home(self) -> None:
        self._edge(self.cursor.home)

    def action_finish(self) -> None:
        self._edge(self.cursor.finish)

    def _edge(self, move: Callable[[], None]) -> None:
        if isinstance(self.focused, Input):
            raise SkipAction()  # the field's own home and end
        move()
        self._repaint()

    def _moved(self, before: datetime) -> None:
        """After the cursor played or stepped on from `before`: announce what it passed, redraw the bar."""
        self._announce_recorded(self.cursor.passed(before))
        self._show_cursor()

    def _repaint(self) -> None:
        """A key moved the cursor or changed the speed: show it now, not at the next tick. The seconds the
        balances table fades a change over are painted first, so it highlights what changed in them as it
        did live, not everything that differs from where the cursor was."""
        self._show_cursor()
        main = self.screen_stack[0]
        if isinstance(main, MainScreen):
            at = self.cursor.at
            for back in range(FADE_STEPS, 0, -1):
                if (earlier := at - back * FADE_STEP) >= self.cursor.start:
                    main.paint(self.recording.view_at(earlier))
            main.refresh_view()

    def _show_cursor(self) -> None:
        """The time bar and the header's clock (which would wait for its own 1 s timer) at the cursor, and
        the books or sessions shown read again if the cursor passed a change of them."""
        self.time_bar.show()
        self.screen_stack[0].query_one(ConsoleClock).refresh()
        since, self._books_at = self._books_at, self.cursor.at
        shown = [screen for screen in self.screen_stack if isinstance(screen, BooksScreen | SessionsScreen)]
        if shown and self.recording.books_changed(since, self.cursor.at):
            for screen in shown:
                screen.reload()

    def _announce_recorded(self, events: list[RecordedEvent]) -> None:
        """One notice per adjustment or recorder start and stop, one per resync for its blind changes."""
        notices = []
        for (_, kind), group in groupby((e for e in events if e.kind in ANNOUNCED), key=lambda e: (e.at, e.kind)):
            texts = [e.text for e in group]
            if kind is EventKind.BLIND_CHANGE:
                more = len(texts) - SHOWN_CHANGES
                notices.append((kind, "\n".join(texts[:SHOWN_CHANGES] + ([f"and {more} more"] if more > 0 else []))))
            else:
                notices.extend((kind, text) for text in texts)
        for kind, text in notices[:MOST_NOTICES]:
            title, severity = ANNOUNCED[kind]
            self.notify(text, title=title, severity=severity, markup=False)  # type: ignore[arg-type]
        if len(notices) > MOST_NOTICES:
            self.notify(f"and {len(notices) - MOST_NOTICES} more announcements passed", title="Replay", markup=False)
