"""A table moved by rows: `home`/`end` go to the first and last row, as an operator expects; its columns as
wide as their widest cell (`fill`), and, for a table of many columns, fitted to its width (`FittedTable`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Static

CellType = TypeVar("CellType")


class RowTable(DataTable[CellType]):
    # DataTable's own home/end scroll sideways; ctrl+home/ctrl+end keep doing what they do there.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]


Column = tuple[str, str, bool]  # key, label, right-aligned


def fill(
    table: DataTable[Text],
    columns: Iterable[Column],
    rows: Iterable[tuple[str, Mapping[str, str]]],
    *,
    flex: str | None = None,
    give_way: Sequence[str] = (),
) -> tuple[str, ...]:
    """Replace a table's columns and rows (each row a key and its cells by column key), every column as wide
    as its widest cell: for tables redrawn only when what they show changes, so measuring is cheap, and no
    amount loses a digit to a fixed width. Cells are Text, never markup: reasons are typed by people.
    `flex` names a column of free text (a reason) that takes only the width the others leave it (at least
    its label's), its longer values cut with an ellipsis: the screen shows the selected row's text in full.
    `give_way` names columns that, first to last, are left out while the others are wider than the table;
    returns those left out, whose values the screen shows for the selected row (`FittedTable`)."""
    columns, rows = list(columns), list(rows)
    widths = {key: max([len(label), *(len(cells[key]) for _, cells in rows)]) for key, label, _ in columns}
    padding = 2 * table.cell_padding
    room = table.size.width - table.styles.scrollbar_size_vertical
    dropped: list[str] = []
    for key in give_way:
        if not table.size.width or sum(w + padding for w in widths.values()) <= room:
            break
        dropped.append(key)
        del widths[key]
    columns = [column for column in columns if column[0] in widths]
    if flex is not None and table.size.width:
        left = room - sum(w + padding for w in widths.values())
        label = next(label for key, label, _ in columns if key == flex)
        widths[flex] = max(widths[flex] + min(left, 0), len(label))
    table.clear(columns=True)
    for key, label, right in columns:
        table.add_column(_padded(label, widths[key], right), width=widths[key], key=key)
    for row_key, values in rows:
        table.add_row(*(_padded(values[key], widths[key], right) for key, _, right in columns), key=row_key)
    return tuple(dropped)


def _padded(value: str, width: int, right: bool) -> Text:
    text = Text(value.rjust(width) if right else value)
    text.truncate(width, overflow="ellipsis")
    return text


class FittedTable(RowTable[Text]):
    """A table `fill`ed again whenever its width changes, its `give_way` columns left out while the others do
    not fit: `left_out` says the selected row's values in those, for a line under the table (so an amount is
    never cut and the table never scrolls sideways for one). Posts `Refitted` after each fill."""

    class Refitted(Message):
        """The table was filled again: other rows, or other columns left out."""

        def __init__(self, table: FittedTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> FittedTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, give_way: Sequence[str] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._columns = tuple(columns)
        self._give_way = tuple(give_way)
        self._rows: dict[str, Mapping[str, str]] = {}
        self._dropped: tuple[str, ...] = ()
        self._width = 0  # the width filled for

    def show(self, rows: Iterable[tuple[str, Mapping[str, str]]]) -> None:
        """Replace the rows; the selected one stays under the cursor."""
        self._rows = dict(rows)
        self._fill()

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._fill()

    def _fill(self) -> None:
        selected = self.coordinate_to_cell_key(self.cursor_coordinate).row_key if self.row_count else None
        self._width = self.size.width
        self._dropped = fill(self, self._columns, self._rows.items(), give_way=self._give_way)
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
        self.post_message(self.Refitted(self))

    def left_out(self) -> str:
        """The selected row's values in the columns left out, each after its label: "" when none is."""
        if not self._dropped or not self.row_count:
            return ""
        row = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        cells = self._rows.get(str(row), {})
        return "  ".join(
            f"{label.lower()} {cells[key]}" for key, label, _ in self._columns if key in self._dropped and key in cells
        )

    def show_left_out(self, line: Static) -> None:
        """`left_out` on `line` (under the table), hidden while there is nothing to say or no table to see."""
        text = self.left_out() if self.display else ""
        line.display = bool(text)
        line.update(text)
