"""The balances table's own cell drawing makes what DataTable's generic one makes, for every kind of cell it
shows: plain, right-aligned, highlighted, under the cursor or the mouse, in both row stripes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from itertools import product

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from balance_tui.core import Balance
from balance_tui.core.events import Source
from balance_tui.tui.balances_table import COLUMNS, BalancesTable

NOW = datetime(2026, 11, 21, tzinfo=UTC)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BalancesTable()


def simplified(lines: list[list[Segment]]) -> list[list[Segment]]:
    return [list(Segment.simplify(line)) for line in lines]


async def test_each_cell_is_drawn_as_datatable_draws_it() -> None:
    async with TableApp().run_test(size=(120, 20)) as pilot:
        table = pilot.app.query_one(BalancesTable)
        before = {a: Balance(a, D(t), (), Source.WS, NOW) for a, t in (("ADA", "1"), ("BTC", "2.5"), ("XRP", "10"))}
        table.sync(before, NOW, {"ADA": D("0.4"), "BTC": None, "XRP": D("1234567.891")})
        later = NOW + timedelta(seconds=1)
        after = {**before, "BTC": before["BTC"]._replace(total=D("3.25"), updated_at=later)}
        table.sync(after, later, {"ADA": D("0.4"), "BTC": D("100000"), "XRP": D("1234567.891")})  # BTC highlighted
        await pilot.pause()
        assert table.highlight("BTC") == 0
        checked = 0
        for row, column in product(range(table.row_count), range(len(COLUMNS))):
            width = table.ordered_columns[column].get_render_width(table)
            base = table._get_row_style(row, table.rich_style)
            for cursor, hover in product((False, True), repeat=2):
                table._cell_render_cache.clear()  # both paths file their lines under the same key
                ours = table._render_cell(row, column, base, width, cursor, hover)
                table._cell_render_cache.clear()
                theirs = DataTable._render_cell(table, row, column, base, width, cursor, hover)
                assert simplified(ours) == simplified(theirs), (row, column, cursor, hover)
                checked += 1
        assert checked == 3 * len(COLUMNS) * 4
