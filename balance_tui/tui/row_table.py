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


def cells(*values: str) -> tuple[Text, ...]:
    """Text, not str: a str cell is read as markup, and reasons are typed by people."""
    return tuple(Text(value) for value in values)


Column = tuple[str, str, bool]  # key, label, right-aligned


def fill(table: DataTable[Text], columns: Iterable[Column], rows: Iterable[tuple[str, Mapping[str, str]]]) -> None:
    """Replace a table's columns and rows (each row a key and its cells by column key), every column as wide
    as its widest cell: for tables redrawn only when what they show changes, so measuring is cheap, and no
    amount loses a digit to a fixed width."""
    columns, rows = list(columns), list(rows)
    widths = [max([len(label), *(len(cells[key]) for _, cells in rows)]) for key, label, _ in columns]
    table.clear(columns=True)
    for (key, label, right), width in zip(columns, widths, strict=True):
        table.add_column(_padded(label, width, right), width=width, key=key)
    for row_key, values in rows:
        padded = (_padded(values[key], width, right) for (key, _, right), width in zip(columns, widths, strict=True))
        table.add_row(*padded, key=row_key)


def _padded(value: str, width: int, right: bool) -> Text:
    return Text(value.rjust(width) if right else value)
