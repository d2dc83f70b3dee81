"""The replay's time bar, above the footer: playing, paused or following a file being recorded (LIVE), the
speed, the cursor's time, how far through the recording, its span and what it recorded; `g` turns it into a
field for a time to jump to."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, ProgressBar, Static

from balance_tui.tui.replay_cursor import ReplayCursor


class TimeBar(Horizontal):
    DEFAULT_CSS = """
    TimeBar {
        dock: bottom;
        margin-bottom: 1;  /* above the footer */
        height: 1;
        background: $panel;
    }
    TimeBar > Static, TimeBar > Label {
        width: auto;
        padding: 0 1;
    }
    TimeBar #replay-state {
        color: $text-accent;
        text-style: bold;
    }
    TimeBar ProgressBar, TimeBar Bar {
        width: 1fr;
    }
    TimeBar #jump {
        width: 1fr;
        height: 1;
        border: none;
        padding: 0;
    }
    TimeBar #jump.-invalid {
        color: $text-error;
    }
    TimeBar #jump-error {
        color: $text-error;
        max-width: 70%;
    }
    TimeBar #jump-label, TimeBar #jump, TimeBar #jump-error {
        display: none;
    }
    TimeBar.-jumping #jump-label, TimeBar.-jumping #jump, TimeBar.-jumping #jump-error {
        display: block;
    }
    TimeBar.-jumping #replay-state, TimeBar.-jumping ProgressBar, TimeBar.-jumping #replay-span,
    TimeBar.-jumping #replay-label {
        display: none;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close_jump", "Cancel", show=False, id="replay.jump_cancel"),
    ]

    class Jump(Message):
        """The operator entered a time to jump to (not checked yet: the app does, with the cursor)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, cursor: ReplayCursor, label: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._cursor = cursor
        self._label = label
        self._return_to: Widget | None = None  # what had the focus before `g`

    def compose(self) -> ComposeResult:
        yield Static("", id="replay-state", markup=False)
        yield ProgressBar(show_eta=False, show_percentage=False, id="replay-progress")
        yield Static("", id="replay-span", markup=False)
        yield Static(self._label, id="replay-label", markup=False)  # what was recorded; not under 110 columns
        yield Label("go to", id="jump-label")
        yield Input(placeholder="HH:MM, HH:MM:SS, ISO time, +5m, -1h", id="jump", select_on_focus=False)
        yield Static("", id="jump-error", markup=False)

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        """The cursor as it stands; called after every move and every tick while playing."""
        cursor = self._cursor
        if cursor.following:
            playing = "● LIVE following"
        else:
            playing = f"{'▶ playing' if cursor.playing else '⏸ paused'} {cursor.speed}x"
        state = f"{playing}  {cursor.at:%Y-%m-%d %H:%M:%S} UTC"
        self.query_one("#replay-state", Static).update(state)
        span = (cursor.end - cursor.start).total_seconds()
        self.query_one(ProgressBar).update(total=span or 1, progress=(cursor.at - cursor.start).total_seconds())
        shown = "%H:%M:%S" if cursor.start.date() == cursor.end.date() else "%m-%d %H:%M"
        self.query_one("#replay-span", Static).update(f"{cursor.start:{shown}} → {cursor.end:{shown}}")

    @property
    def jumping(self) -> bool:
        return self.has_class("-jumping")

    def open_jump(self) -> None:
        self._return_to = self.screen.focused
        self.add_class("-jumping")
        field = self.query_one("#jump", Input)
        field.value = ""
        self.fail("")
        field.focus()

    def action_close_jump(self) -> None:
        self.remove_class("-jumping")
        if self._return_to is not None and self._return_to.is_attached:
            self._return_to.focus()
        else:
            self.screen.focus_next()  # off the hidden field

    def fail(self, problem: str) -> None:
        """Why the entry names no time in the recording; the field stays open with it, the cursor where it was."""
        field = self.query_one("#jump", Input)
        field.set_class(bool(problem), "-invalid")
        self.query_one("#jump-error", Static).update(problem)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.fail("")  # the error was about the entry before this edit

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Jump(event.value))
