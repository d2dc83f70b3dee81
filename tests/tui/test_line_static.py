"""LineStatic repaints only the lines that changed, and the whole widget when a line wraps or did."""

from __future__ import annotations

from textual.app import App, ComposeResult

from balance_tui.tui.line_static import LineStatic


class OneLine(App[None]):
    CSS = "LineStatic { width: 20; height: auto; }"

    def compose(self) -> ComposeResult:
        yield LineStatic("")


async def test_a_line_that_wrapped_and_now_fits_leaves_nothing_of_its_wrap_behind() -> None:
    app = OneLine()
    async with app.run_test(size=(40, 6)) as pilot:
        widget = app.query_one(LineStatic)
        widget.show_lines(["a trend needs 5 changes over five minutes"])
        await pilot.pause()
        assert widget.size.height == 3 and "minutes" in app.export_screenshot()
        widget.show_lines(["6 changes"])
        await pilot.pause()
        shown = app.export_screenshot()
        assert widget.size.height == 1 and "6&#160;changes" in shown
        assert "trend" not in shown and "minutes" not in shown
