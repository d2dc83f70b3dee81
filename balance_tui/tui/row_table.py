"""A table moved by rows: `home`/`end` go to the first and last row, as an operator expects."""

from __future__ import annotations

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
