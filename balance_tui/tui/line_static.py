"""A Static that repaints only the lines an update changed.

A Static repaints every line it has on any update, and over SSH every repainted line is bytes on the wire: the
feed pane's forty lines went out whole each second for the one age in them that moved. Here an update with
as many lines as before, none wider than the widget (now or before), marks only the changed lines dirty, and each
line is rendered on its own and kept until it changes (a Static renders all its content again for any dirty line);
only those lines go to the terminal. Anything else (a line more or fewer, a line that would wrap, a text
selection) is a plain Static's update and render.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Static


class LineStatic(Static):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lines: tuple[Content | str, ...] | None = None  # the lines shown, as given to show_lines
        self._only: list[Region] | None = None  # while updating: the lines the refresh is limited to
        self._widest = 0  # the widest line, in cells
        self._strips: dict[int, tuple[tuple[object, ...], Strip]] = {}  # by line: what it was rendered from

    def show_lines(self, lines: Sequence[Content | str]) -> None:
        """Show `lines`, one under the other (str lines are plain text, never markup)."""
        lines = tuple(lines)
        before, self._lines = self._lines, lines
        if lines == before:
            return
        content = Content("\n").join(_content(line) for line in lines)
        width = self.content_size.width
        wrapped, self._widest = self._widest > width, max(map(_width, lines), default=0)
        if before is None or len(before) != len(lines) or wrapped or self._widest > width:
            self.update(content)
            return
        changed = (y for y, (old, new) in enumerate(zip(before, lines, strict=True)) if old != new)
        self._only = [Region(0, y, width, 1) for y in changed]
        try:
            self.update(content, layout=False)
        finally:
            self._only = None

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Widget:
        """Static.update refreshes the whole widget: within show_lines, only the changed lines."""
        if self._only is not None and not regions and not layout:
            regions = tuple(self._only)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def render_line(self, y: int) -> Strip:
        """Line `y` as rendered on its own, again only when it (or the widget's width or style) changed."""
        lines, width = self._lines, self.size.width
        if lines is None or not 0 <= y < len(lines) or self._widest > width or self.text_selection is not None:
            return super().render_line(y)
        key = (lines[y], width, self.visual_style)
        cached = self._strips.get(y)
        if cached is None or cached[0] != key:
            strip = Visual.to_strips(self, _content(lines[y]), width, 1, self.visual_style)[0]
            cached = self._strips[y] = (key, strip)
        return cached[1]


def _content(line: Content | str) -> Content:
    return line if isinstance(line, Content) else Content(line)


def _width(line: Content | str) -> int:
    return line.cell_length if isinstance(line, Content) else cell_len(line)
