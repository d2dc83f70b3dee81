"""The header: title, what the console is connected to, its state badges, and the time in UTC."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Mount
from textual.widgets import Header
from textual.widgets._header import HeaderClock, HeaderIcon, HeaderTitle

from balance_tui.tui.badges import BadgeBar


class ConsoleClock(HeaderClock):
    """The app's clock (a frozen one in tests), in UTC like every time the console shows, repainted as the app's
    second moves (`BalanceApp.second`) rather than by a 1 s timer of its own, which ran a frame apart from the
    ages and up to a second behind the clock."""

    DEFAULT_CSS = """
    ConsoleClock {
        dock: none;
        width: 14;
    }
    """

    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # HeaderClock's timer; Widget's own handler only sets up scrollbars
        self.watch(self.app, "second", self._second_passed, init=False)

    def _second_passed(self) -> None:
        self.refresh()

    def render(self) -> RenderResult:
        return Text(f"{self.app.clock.now():%H:%M:%S} UTC")  # type: ignore[attr-defined]


class ConsoleTitle(HeaderTitle):
    """As much of the title as the header leaves room for: the app's name gives way first, then the sub-title's
    last parts (" · " apart: the session), so what the console is connected to shows on an 80-column terminal."""

    def render(self) -> RenderResult:
        header = self.query_ancestor(Header)
        title, sub_title = header.screen_title, header.screen_sub_title
        parts = sub_title.split(" · ") if sub_title else []
        candidates = [self.app.format_title(title, sub_title)]
        candidates += [Content(" · ".join(parts[:n])) for n in range(len(parts), 0, -1)]
        width = self.content_size.width
        return next((text for text in candidates if text.cell_length <= width), candidates[-1])


class ConsoleHeader(Header):
    DEFAULT_CSS = """
    ConsoleHeader #header-right {
        dock: right;
        width: auto;
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield HeaderIcon().data_bind(Header.icon)
        yield ConsoleTitle()
        with Horizontal(id="header-right"):  # one dock: two widgets docked on the same side would overlap
            yield BadgeBar()
            yield ConsoleClock()
