"""A table cell drawn straight to segments: what DataTable's generic path makes of a one-line Text cell.

DataTable renders every cell through Rich's whole pipeline (Padding, wrapping, cropping, then the style
sandwich `Styled`), about 90 µs a cell here: most of a busy frame of the balances table. A cell that is one
line of Text no wider than its column needs none of that: its padding, its text's segments and the fill to
the column's width. The balances table styles a whole row's cells at once, as `Styled` styles each (the
row's style and the cursor's before the text's own, the CSS-priority colours after).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.text import Text


def fits(cell: object, width: int) -> bool:
    """Whether `cell` can be drawn here: plain one-line Text with no style of its own beyond its spans."""
    return isinstance(cell, Text) and not cell.style and "\n" not in cell.plain and cell_len(cell.plain) <= width


def cell_segments(console: Console, cell: Text, width: int, padding: int) -> list[Segment]:
    """The unstyled segments of a cell `width` wide inside its `padding` (its spans keep their styles)."""
    pad = [Segment(" " * padding)] if padding else []
    fill = width - cell_len(cell.plain)
    return [*pad, *cell.render(console), *([Segment(" " * fill)] if fill else []), *pad]
