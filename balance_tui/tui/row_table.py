"""A table moved by rows: `home`/`end` go to the first and last row, as an operator expects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

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
) -> None:
    """Replace a table's columns and rows (each row a key and its cells by column key), every column as wide
    as its widest cell: for tables redrawn only when what they show changes, so measuring is cheap, and no
    amount loses a digit to a fixed width. Cells are Text, never markup: reasons are typed by people.
    `flex` names a column of free text (a reason) that takes only the width the others leave it (at least
    its label's), its longer values cut with an ellipsis: the screen shows the selected row's text in full."""
    columns, rows = list(columns), list(rows)
    widths = {key: max([len(label), *(len(cells[key]) for _, cells in rows)]) for key, label, _ in columns}
    if flex is not None and table.size.width:
        padding = 2 * table.cell_padding
        room = table.size.width - table.styles.scrollbar_size_vertical - sum(w + padding for w in widths.values())
        label = next(label for key, label, _ in columns if key == flex)
        widths[flex] = max(widths[flex] + min(room, 0), len(label))
    table.clear(columns=True)
    for key, label, right in columns:
        table.add_column(_padded(label, widths[key], right), width=widths[key], key=key)
    for row_key, values in rows:
        table.add_row(*(_padded(values[key], widths[key], right) for key, _, right in columns), key=row_key)


def _padded(value: str, width: int, right: bool) -> Text:
    text = Text(value.rjust(width) if right else value)
    text.truncate(width, overflow="ellipsis")
    return text
