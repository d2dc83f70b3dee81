"""The header: title, what the console is connected to, its state badges, and the time in UTC."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.widgets import Header
from textual.widgets._header import HeaderClock, HeaderIcon, HeaderTitle


class ConsoleClock(HeaderClock):
    """The app's clock (a frozen one in tests), in UTC like every time the console shows."""

    DEFAULT_CSS = """
    ConsoleClock {
        width: 14;
    }
    """

    def render(self) -> RenderResult:
        return Text(f"{self.app.clock.now():%H:%M:%S} UTC")  # type: ignore[attr-defined]


class ConsoleHeader(Header):
    def compose(self) -> ComposeResult:
        yield HeaderIcon().data_bind(Header.icon)
        yield HeaderTitle()
        yield ConsoleClock()
