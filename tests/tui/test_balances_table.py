"""The balances table as an operator reads it: alphabetical, whatever order assets first appear in."""

from datetime import UTC, datetime
from decimal import Decimal as D

from textual.app import App, ComposeResult

from balance_tui.core import Balance
from balance_tui.core.events import Source
from balance_tui.tui.balances_table import BalancesTable

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def held(*assets: str) -> dict[str, Balance]:
    return {asset: Balance(asset, D(1), (), Source.WS, NOW) for asset in assets}


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BalancesTable()


async def test_an_asset_first_held_later_joins_in_order_and_the_cursor_stays_put() -> None:
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(BalancesTable)
        table.sync(held("BTC", "USD"), NOW, {})
        table.move_cursor(row=table.get_row_index("USD"))
        table.sync(held("BTC", "LINK", "USD"), NOW, {})
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows] == ["BTC", "LINK", "USD"]
        assert table.selected_asset == "USD"
