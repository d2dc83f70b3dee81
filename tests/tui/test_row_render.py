"""The balances table's own row lines show what DataTable's generic ones show, for every kind of row it
draws: plain, right-aligned, highlighted, under the cursor or the mouse, in both row stripes, scrolled
sideways; and a row's cells of one style are one segment."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from itertools import product

from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.strip import Strip
from textual.widgets import DataTable

from balance_tui.core import Balance
from balance_tui.core.events import Source
from balance_tui.tui.balances_table import FADE_STEP, FADE_STEPS, BalancesTable

NOW = datetime(2026, 11, 21, tzinfo=UTC)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BalancesTable()


def picture(strip: Strip) -> list[tuple[str, Style]]:
    """Each character with the style it is drawn in, less the mouse's meta (ours is one per row)."""
    return [(char, Style(color=s.color, bgcolor=s.bgcolor, bold=s.bold, dim=s.dim, italic=s.italic,
                         underline=s.underline, reverse=s.reverse))
            for text, s, _ in strip for char in text]  # fmt: skip


async def test_each_row_is_drawn_as_datatable_draws_it() -> None:
    async with TableApp().run_test(size=(120, 20)) as pilot:
        table = pilot.app.query_one(BalancesTable)
        before = {a: Balance(a, D(t), (), Source.WS, NOW) for a, t in (("ADA", "1"), ("BTC", "2.5"), ("XRP", "10"))}
        table.sync(before, NOW, {"ADA": D("0.4"), "BTC": None, "XRP": D("1234567.891")})
        later = NOW + timedelta(seconds=1)
        after = {**before, "BTC": before["BTC"]._replace(total=D("3.25"), updated_at=later)}
        table.sync(after, later, {"ADA": D("0.4"), "BTC": D("100000"), "XRP": D("1234567.891")})  # BTC highlighted
        await pilot.pause()
        assert table.highlight("BTC") == 0
        width, base = table.size.width, table.rich_style
        table._pseudo_class_state = table.get_pseudo_class_state()
        checked = 0
        for row, (x1, x2) in product(range(table.row_count), ((0, width), (7, width + 7))):
            for cursor, hover in product((0, 1), repeat=2):
                table._show_hover_cursor = True
                table.cursor_coordinate = Coordinate(row if cursor else (row + 1) % 3, 0)
                table.hover_coordinate = Coordinate(row if hover else (row + 2) % 3, 0)
                y = row + table.header_height
                ours = table._render_line(y, x1, x2, base)
                table._clear_caches()
                theirs = DataTable._render_line(table, y, x1, x2, base)
                assert picture(ours) == picture(theirs), (row, x1, cursor, hover)
                assert len(ours) <= len(theirs)
                checked += 1
        assert checked == 3 * 2 * 4


async def test_a_rows_cells_of_one_style_are_one_segment() -> None:
    async with TableApp().run_test(size=(120, 20)) as pilot:
        table = pilot.app.query_one(BalancesTable)
        table.sync({"ADA": Balance("ADA", D(1), (), Source.WS, NOW)}, NOW, {"ADA": D(2)})
        await pilot.pause()
        table.move_cursor(row=0)
        table.hover_coordinate = Coordinate(0, 0)
        line = table._render_line(table.header_height, 0, table.size.width, table.rich_style)
        assert len(list(Segment.simplify(line))) == len(line) == 2  # the cells, and the row's end past them


async def test_a_changed_figure_repaints_its_cell_where_it_shows_in_a_scrolled_table() -> None:
    async with TableApp().run_test(size=(120, 12)) as pilot:  # 11 rows of 30 in view
        table = pilot.app.query_one(BalancesTable)
        balances = {f"A{i:02d}": Balance(f"A{i:02d}", D(i), (), Source.WS, NOW) for i in range(30)}
        table.sync(balances, NOW, {})
        await pilot.pause()
        table.scroll_end(animate=False)
        await pilot.pause()
        assert table.scroll_y > 0
        repainted: list = []
        refresh = table.refresh
        table.refresh = lambda *regions, **kw: repainted.extend(regions) or refresh(*regions, **kw)  # type: ignore[method-assign]
        table.sync({**balances, "A27": balances["A27"]._replace(total=D("27.5"))}, NOW, {})
        y = table.header_height + table.get_row_index("A27") - round(table.scroll_y)  # the row's line on screen
        assert {(region.y, region.height) for region in repainted} == {(y, 1)}
        assert len(repainted) == 1  # the total (the one figure that moved, highlighted), not the whole row
        total = repainted[0]
        assert total.width == table.columns["total"].get_render_width(table)
        repainted.clear()
        table.sync({**balances, "A27": balances["A27"]._replace(total=D("27.5"))}, NOW + FADE_STEP * FADE_STEPS, {})
        assert repainted == [total]  # the highlight gone: its cell again, nothing else
        table.refresh = refresh  # type: ignore[method-assign]
        table._pseudo_class_state = table.get_pseudo_class_state()
        line = table.render_line(y).text
        assert line[total.x : total.right].strip() == "27.5" and line.split()[0] == "A27"
