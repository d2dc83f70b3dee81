"""The header: title, what the console is connected to, its state badges, and the time in UTC."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.widgets import Header
from textual.widgets._header import HeaderClock, HeaderIcon, HeaderTitle

from balance_tui.tui.badges import BadgeBar


class ConsoleClock(HeaderClock):
    """The app's clock (a frozen one in tests), in UTC like every time the console shows."""

    DEFAULT_CSS = """
    ConsoleClock {
        dock: none;
        width: 14;
    }
    """

    def render(self) -> RenderResult:
        return Text(f"{self.app.clock.now():%H:%M:%S} UTC")  # type: ignore[attr-defined]


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
        yield HeaderTitle()
        with Horizontal(id="header-right"):  # one dock: two widgets docked on the same side would overlap
            yield BadgeBar()
            yield ConsoleClock()
