"""A Static that repaints only the lines an update changed.

A Static repaints every line it has on any update, and over SSH every repainted line is bytes on the wire: the
feed pane's forty lines went out whole each second for the one age in them that moved. Here an update with
as many lines as before, none wider than the widget, marks only the changed lines dirty; Textual then renders
the content once and sends those lines alone. Anything else (a line more or fewer, a line that would wrap)
is a plain update.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static


class LineStatic(Static):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lines: tuple[Content | str, ...] | None = None  # the lines shown, as given to show_lines
        self._only: list[Region] | None = None  # while updating: the lines the refresh is limited to

    def show_lines(self, lines: Sequence[Content | str]) -> None:
        """Show `lines`, one under the other (str lines are plain text, never markup)."""
        lines = tuple(lines)
        before, self._lines = self._lines, lines
        if lines == before:
            return
        content = Content("\n").join(line if isinstance(line, Content) else Content(line) for line in lines)
        width = self.content_size.width
        if before is None or len(before) != len(lines) or any(_width(line) > width for line in lines):
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


def _width(line: Content | str) -> int:
    return line.cell_length if isinstance(line, Content) else cell_len(line)
