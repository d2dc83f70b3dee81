"""The modal of an action that needs a written note: undoing an adjustment, acknowledging an issue.

It says what the action acts on, asks for the note (required: it is recorded with the operator), and runs
the action on confirm. A refusal (no note; the store's words) is shown in place and the modal stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

Submit = Callable[[str], Awaitable[str | None]]  # the note -> a refusal to show, or None once done


@dataclass(frozen=True, slots=True)
class Note:
    """What the modal says: its title, what it acts on, and how it asks for the note."""

    title: str  # "Undo adjustment #3?"
    subject: str  # what it acts on, in full (exchange data or an operator's reason: never markup)
    name: str  # what the note is called: "reason", "note"
    missing: str  # the refusal of an empty note
    confirm: str  # the confirm button's word: "Undo", "Save"
    hint: str = ""  # what follows from it, under the subject
    warning: bool = False  # it changes the books: the warning colour


class NoteForm(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="note.cancel"),
        Binding("ctrl+s", "confirm", "Confirm", priority=True, id="note.confirm"),
    ]

    def __init__(self, note: Note, submit: Submit) -> None:
        super().__init__(classes="-warning" if note.warning else "")
        self.note = note
        self._submit = submit

    def compose(self) -> ComposeResult:
        note = self.note
        with Vertical(id="form"):
            yield Label(note.title)
            yield Static(note.subject, id="subject", markup=False)
            if note.hint:
                yield Static(note.hint, classes="hint", markup=False)
            yield Input(placeholder=f"{note.name} (required; kept with your user, SSH origin, tty)", id="note")
            yield Static("", id="error", markup=False)
            with Horizontal(id="buttons"):
                yield Button(f"{note.confirm}  ctrl+s", variant="warning" if note.warning else "primary", id="confirm")
                yield Button("Cancel  esc", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    @on(Input.Changed, "#note")
    def _typed(self) -> None:
        self.query_one("#error", Static).update("")

    @on(Input.Submitted, "#note")
    @on(Button.Pressed, "#confirm")
    async def action_confirm(self) -> None:
        text = self.query_one("#note", Input).value.strip()
        error = self.query_one("#error", Static)
        if not text:
            error.update(self.note.missing)
            return
        refusal = await self._submit(text)
        if refusal is None:
            self.dismiss(True)
        else:
            error.update(refusal)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
