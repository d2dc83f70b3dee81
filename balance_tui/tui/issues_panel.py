"""Validation issues the engine holds open, as a table, most severe first; each can be acknowledged with a note.

An acknowledgement (`store.acks`, with the operator, like an adjustment) covers one occurrence of an issue:
the issue stays out of the table while it keeps firing, however often (low_balance fires on every update,
so "its last_seen moved past the ack" would bring it back at once), and shows again once it has cleared and
fired anew, i.e. once its `first_seen` is after the acknowledgement. The latest acknowledgement of an issue
key counts (the store keeps all of them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from balance_tui.core.validator import ValidationIssue
from balance_tui.store.errors import StoreError
from balance_tui.store.identity import Operator
from balance_tui.tui import availability
from balance_tui.tui.note_form import Note, NoteForm
from balance_tui.tui.row_table import RowTable

if TYPE_CHECKING:
    from balance_tui.store.tables import ValidationAck

SEVERITY_STYLES = {"critical": "$error", "error": "$error", "warning": "$warning", "info": "$text-muted"}
SEVERITY_RICH = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "dim"}
# key, label, width; the message takes what is left. The table fits the pane's width (`fitted`): the columns
# at the end of KEPT give way first, and the rule is cut (with an ellipsis) before the asset goes; the
# selected issue's detail, under the table when the pane is zoomed, has every figure and the whole message.
COLUMNS = (("severity", "Severity", 8), ("asset", "Asset", 6), ("rule", "Rule", 21), ("count", "Count", 5),
           ("first", "First", 8), ("last", "Last", 8), ("message", "Message", 0))  # fmt: skip
KEPT = ("severity", "asset", "rule", "count", "last", "message", "first")
MIN_RULE = 8  # "low_bal…": enough to tell the rules apart
MIN_MESSAGE = 12
PADDING = 2  # a DataTable cell's padding, one each side
SCROLLBAR = 1  # app.tcss: kept for the table's, which shows once the rows outgrow the pane


def fitted(width: int) -> list[tuple[str, str, int]]:
    """The columns that fit `width` cells, in table order, each with its width."""
    widths = {key: width for key, _, width in COLUMNS}
    kept: dict[str, int] = {}
    left = width
    for key in KEPT:
        needed = MIN_MESSAGE if key == "message" else widths[key]
        if key == "rule":
            needed = max(min(needed, left - PADDING), MIN_RULE)
        if needed + PADDING > left:
            break
        kept[key] = needed
        left -= needed + PADDING
    if "message" in kept:
        kept["message"] += left
    return [(key, label, kept[key]) for key, label, _ in COLUMNS if key in kept]


def issue_key(issue: ValidationIssue) -> str:
    """The store's name for an issue (`validation_acks.issue`): asset and rule, e.g. "USDT:low_balance"."""
    return f"{issue.asset or 'account'}:{issue.rule}"


def unacknowledged(issues: tuple[ValidationIssue, ...], known: Mapping[str, ValidationAck]) -> list[ValidationIssue]:
    """The issues to show: those with no acknowledgement since they first fired (this occurrence)."""
    return [i for i in issues if (ack := known.get(issue_key(i))) is None or ack.created_at < i.first_seen]


def _cells(issue: ValidationIssue) -> dict[str, Text]:
    return {
        "severity": Text(issue.severity.upper(), style=SEVERITY_RICH[issue.severity]),
        "rule": Text(issue.rule),
        "asset": Text(issue.asset or "-"),
        "first": Text(f"{issue.first_seen:%H:%M:%S}"),
        "last": Text(f"{issue.last_seen:%H:%M:%S}"),
        "count": Text(str(issue.count).rjust(5)),
        "message": Text(issue.message),  # Text, not str: messages carry exchange data, never markup
    }


def ack_note(issue: ValidationIssue) -> Note:
    """What the acknowledgement's modal says: the issue, and what acknowledging it does."""
    return Note(
        title=f"Acknowledge {issue.severity.upper()} {issue.rule} on {issue.asset or 'the account'}",
        subject=issue.message,
        hint="It leaves the table until it clears and fires again.",
        name="note",
        missing="note: say why this issue is fine; it is recorded with you",
        confirm="Save",
    )


def describe(issue: ValidationIssue, previous: ValidationAck | None) -> Content:
    """The detail of one issue, shown under the table when the pane is zoomed."""
    text = Content.from_markup(
        f"[{SEVERITY_STYLES[issue.severity]}]$severity[/] $rule on $asset: fired $count times,"
        " first $first, last $last UTC\n$message\n[$text-muted]k acknowledges it with a note ($key)[/]",
        severity=issue.severity.upper(),
        rule=str(issue.rule),
        asset=issue.asset or "the account",
        count=str(issue.count),
        first=f"{issue.first_seen:%Y-%m-%d %H:%M:%S}",
        last=f"{issue.last_seen:%Y-%m-%d %H:%M:%S}",
        message=issue.message,
        key=issue_key(issue),
    )
    if previous is not None:
        text += Content.from_markup(
            "\n[$text-muted]acknowledged before (it cleared since) by $who at $when: $note[/]",
            who=previous.operator,
            when=f"{previous.created_at:%Y-%m-%d %H:%M:%S}",
            note=previous.reason,
        )
    return text


class IssuesPanel(Vertical):
    ALLOW_MAXIMIZE = True  # `z` (or enter, or `i` from the main screen) zooms it with the detail
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "acknowledge", "Acknowledge", id="issues.ack",
                tooltip="acknowledge the selected issue with a note: it leaves the table until it fires anew"),
    ]  # fmt: skip

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "validation"
        self.can_focus = True  # while no table shows: tab still reaches the pane, and `z` zooms it
        self._issues: tuple[ValidationIssue, ...] | None = None
        self._acks: dict[str, ValidationAck] | None = None  # None: not read from the store yet (`acknowledged`)
        self._shown: dict[str, ValidationIssue] = {}  # by key, in table order
        self._drawn: dict[str, dict[str, Text]] = {}
        self._columns: list[tuple[str, str, int]] = []  # as laid out for the pane's width (`fitted`)

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[$success]no issues[/]"), id="issues-none")
        yield RowTable(id="issues-table")
        yield Static("", id="issue-detail")
        yield Static("", id="issue-gist", markup=False)  # on a tall screen, unzoomed (app.tcss)

    def on_mount(self) -> None:
        self.table.display = False

    def on_resize(self) -> None:
        """Lay the columns out again for the new width; the rows are drawn again in them."""
        columns = fitted(self.content_size.width - SCROLLBAR)
        if columns != self._columns:
            self._columns = columns
            self._shown = {}
            self._redraw()

    @property
    def table(self) -> RowTable[Text]:
        return self.query_one("#issues-table", RowTable)

    @property
    def selected(self) -> ValidationIssue | None:
        table = self.table
        if not self._shown or not table.display:
            return None
        return list(self._shown.values())[min(table.cursor_row, len(self._shown) - 1)]

    def show(self, issues: tuple[ValidationIssue, ...]) -> None:
        """One tick's open issues; rows are keyed by issue and only changed cells are redrawn."""
        if issues == self._issues:
            return
        self._issues = issues
        self._redraw()

    def _redraw(self) -> None:
        issues = self._issues or ()
        shown = unacknowledged(issues, self._acks or {})
        hidden = len(issues) - len(shown)
        self.border_subtitle = " · ".join(
            ([f"{len(shown)} open"] if shown else []) + ([f"{hidden} acknowledged"] if hidden else [])
        )
        table = self.table
        keys = [issue_key(i) for i in shown]
        if keys != list(self._shown):
            selected = self.selected
            table.clear(columns=True)
            for key, label, width in self._columns:
                table.add_column(label, width=width, key=key)
            self._drawn = {key: self._cells(issue) for key, issue in zip(keys, shown, strict=True)}
            for key, cells in self._drawn.items():
                table.add_row(*cells.values(), key=key)
            if selected is not None and issue_key(selected) in keys:
                table.move_cursor(row=keys.index(issue_key(selected)))
        else:
            for key, issue in zip(keys, shown, strict=True):
                cells = self._cells(issue)
                for column, cell in cells.items():
                    if self._drawn[key][column] != cell:
                        table.update_cell(key, column, cell)
                self._drawn[key] = cells
        self._shown = dict(zip(keys, shown, strict=True))
        had_focus = self.has_focus or table.has_focus
        table.display = bool(shown)
        self.query_one("#issues-none").display = not shown
        self.can_focus = not shown
        if had_focus:
            (table if shown else self).focus()
        self._describe()

    def _cells(self, issue: ValidationIssue) -> dict[str, Text]:
        """The issue's cells in the columns laid out, each cut to its column with an ellipsis."""
        cells = _cells(issue)
        for key, _, width in self._columns:
            cells[key].truncate(width, overflow="ellipsis")
        return {key: cells[key] for key, _, _ in self._columns}

    def _describe(self) -> None:
        issue = self.selected
        detail, gist = self.query_one("#issue-detail", Static), self.query_one("#issue-gist", Static)
        if issue is None:
            detail.update("")
            gist.update("")
        else:
            detail.update(describe(issue, (self._acks or {}).get(issue_key(issue))))
            gist.update(f"{issue.rule}: {issue.message}")

    @on(DataTable.RowHighlighted, "#issues-table")
    def _highlighted(self) -> None:
        self._describe()

    @on(DataTable.RowSelected, "#issues-table")
    def _selected(self) -> None:
        """Enter on an issue: the pane over the whole screen, with the issue's detail under the table."""
        if self.screen.maximized is None:
            self.screen.maximize(self)

    def acknowledged(self, written: Iterable[ValidationAck], *, announce: bool = True) -> None:
        """Acknowledgements written by any console (this one too), once each whichever way it arrives: the
        write's own result or the store's watch. Each new one is announced, unless `announce` is False (those
        read at start); the latest of an issue counts."""
        known = dict(self._acks or {})
        for ack in written:
            latest = known.get(ack.issue)
            if latest is not None and (latest.id or 0) >= (ack.id or 0):
                continue
            known[ack.issue] = ack
            if announce:
                self.notify(f"{ack.issue} by {ack.operator}: {ack.reason}", title="Issue acknowledged", markup=False)
        self._acks = known
        self._redraw()

    def unavailable(self, action: str) -> str:
        """Why `action` cannot run now (availability.Explains): the console's reasons, then the pane's own."""
        if why := availability.unavailable(self.app, action):
            return why
        return "no validation issue selected" if action == "acknowledge" and self.selected is None else ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Acknowledging writes to the store, and needs an issue: else the key shows disabled and says why."""
        return None if self.unavailable(action) else True

    def action_acknowledge(self) -> None:
        issue = self.selected
        if issue is not None:
            self.app.push_screen(NoteForm(ack_note(issue), partial(self._acknowledge, issue)))

    async def _acknowledge(self, issue: ValidationIssue, note: str) -> str | None:
        """Write the acknowledgement with the operator; an error to show in the form, or None once written."""
        from sqlalchemy.exc import SQLAlchemyError  # loaded with the backend (see tui/app.py, SCREENS)

        from balance_tui.store import acks

        backend = self.app.backend
        if backend is None:
            return "the console is still starting"
        try:
            ack = await asyncio.to_thread(
                acks.acknowledge,
                backend.store,
                issue=issue_key(issue),
                reason=note,
                operator=Operator.current(),
                now=backend.manager.clock.now(),
            )
        except (StoreError, SQLAlchemyError) as exc:
            return str(exc)
        self.acknowledged([ack])
        return None
