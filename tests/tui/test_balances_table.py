"""The balances table as an operator reads it: alphabetical, whatever order assets first appear in, or sorted
by a column; a changed total highlighted until it fades."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from textual.app import App, ComposeResult

from balance_tui.core import Balance
from balance_tui.core.events import Source
from balance_tui.tui.balances_table import FADE_STEP, FADE_STEPS, BalancesTable

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


def balance(asset: str, total: str, seconds_old: int = 0) -> Balance:
    return Balance(asset, D(total), (), Source.WS, NOW - timedelta(seconds=seconds_old))


def order(table: BalancesTable) -> list[str]:
    return [str(row.key.value) for row in table.ordered_rows]


async def test_an_asset_with_no_price_sorts_last_either_way_and_ties_read_a_to_z() -> None:
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(BalancesTable)
        balances = {b.asset: b for b in (balance("XRP", "1"), balance("ADA", "1"), balance("BTC", "2"))}
        table.sync(balances, NOW, {"XRP": D(5), "ADA": D(5), "BTC": None})
        for _ in range(4):
            table.cycle_sort()  # total, held, free, value
        assert table.sort_order.column == "value" and table.sort_order.descending
        assert order(table) == ["ADA", "XRP", "BTC"]
        table.reverse_sort()
        assert order(table) == ["ADA", "XRP", "BTC"]
        table.sort_by("total")
        assert order(table) == ["BTC", "ADA", "XRP"]


async def test_ages_sort_youngest_first_and_do_not_reorder_as_time_passes() -> None:
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(BalancesTable)
        balances = {b.asset: b for b in (balance("ADA", "1", 30), balance("BTC", "1", 5), balance("ETH", "1", 60))}
        table.sync(balances, NOW, {})
        table.sort_by("age")
        assert order(table) == ["BTC", "ADA", "ETH"] and table.sort_order.descending is False
        table.sync(balances, NOW + timedelta(seconds=10), {})  # BTC is 15 s old: "10s" in 10 s steps
        assert order(table) == ["BTC", "ADA", "ETH"] and table.get_cell("BTC", "age").plain.strip() == "10s"
        table.reverse_sort()
        assert order(table) == ["ETH", "ADA", "BTC"]


async def test_a_new_asset_is_not_a_change_and_a_filtered_out_change_still_shows_when_it_comes_back() -> None:
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(BalancesTable)
        table.sync(held("BTC", "ETH"), NOW, {})
        table.sync({**held("BTC", "ETH"), "LINK": balance("LINK", "1")}, NOW, {})
        assert table.highlight("LINK") is None
        table.set_filter("eth")
        table.sync({**held("ETH"), "BTC": balance("BTC", "3"), "LINK": balance("LINK", "1")}, NOW, {})
        assert order(table) == ["ETH"]
        table.set_filter("")
        assert table.highlight("BTC") == 0
        later = NOW + FADE_STEP * FADE_STEPS
        table.sync({**held("ETH"), "BTC": balance("BTC", "3"), "LINK": balance("LINK", "1")}, later, {})
        assert table.highlight("BTC") is None
