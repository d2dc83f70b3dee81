"""One table cell drawn straight to segments: what DataTable's generic path makes of a one-line Text cell.

DataTable renders every cell through Rich's whole pipeline (Padding, wrapping, cropping, then the style
sandwich `Styled`), about 90 µs a cell here: most of a busy frame of the balances table. A cell that is one
line of Text no wider than its column needs none of that: its padding, its text's segments and the fill to
the column's width, each styled as `Styled` styles them (the row's style and the cursor's before the
text's own, the CSS-priority colours after). DataTable simplifies each line it builds, so the segments here
need not split where Rich's do, only style each character alike; tests/tui/test_cell_render.py holds the
two paths to the same lines.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text


def fits(cell: object, width: int) -> bool:
    """Whether `cell` can be drawn here: plain one-line Text with no style of its own beyond its spans."""
    return isinstance(cell, Text) and not cell.style and "\n" not in cell.plain and cell_len(cell.plain) <= width


def text_cell(console: Console, cell: Text, width: int, padding: int, pre: Style, post: Style) -> list[Segment]:
    """The segments of a cell `width` wide inside its `padding`, as one line."""
    pad = Segment(" " * padding) if padding else None
    fill = width - cell_len(cell.plain)
    segments = [*cell.render(console)]
    if fill:
        segments.append(Segment(" " * fill))
    if pad is not None:
        segments = [pad, *segments, pad]
    return list(Segment.apply_style(segments, style=pre, post_style=post))
