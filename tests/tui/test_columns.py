"""The balances table's columns by the terminal's width: each as wide as its widest figure, the least needed
giving way on a narrow terminal (their figures for the selected row shown under the table), the extra ones
joining on a wide one; a resize lays them out again. No amount ever loses a digit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest
from textual.widgets import Static

from balance_tui.core import Balance
from balance_tui.core.events import Source, WalletBalance
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.balances_table import COLUMN_KEYS, BalancesTable
from balance_tui.tui.formatting import amount
from balance_tui.view import SelectionView, View
from tests.conftest import FrozenClock
from tests.tui.conftest import settled
from tests.tui.test_feed_panel import ENGINE, LIVE
from tests.tui.test_main_states import ThemedApp, painted
from tests.tui.test_view import NOW, a_view

WHALE = D("12345678901.1234567891")  # 24 characters once grouped: wider than any column starts


def many_assets() -> View:
    """A dozen assets with figures as wide as the simulator's (16 characters: 154,668.84000000), one held in
    two wallets."""
    view = replace(a_view(), feed=LIVE, engine=ENGINE)
    balances = dict(view.balances)
    values = dict(view.values)
    for i, name in enumerate(("ADA", "DOGE", "DOT", "ETH", "EUR", "LTC", "SOL", "USDC", "USDT", "XRP")):
        total = (D(154668 + 1000 * i) + D("0.84")).quantize(D("1e-8"))
        wallets = (WalletBalance("spot", "main", total),)
        if name == "DOT":
            wallets = (WalletBalance("spot", "main", total - 5), WalletBalance("earn", "bonded", D(5)))
        balances[name] = Balance(name, total, wallets, Source.WS, NOW - timedelta(seconds=i))
        values[name] = total * 3
    # The first row's asset: the cursor starts there (painting a View by hand does not move the selection).
    selection = SelectionView(asset="ADA", balance=balances["ADA"])
    return replace(view, balances=balances, values=values, selection=selection)


def with_a_whale() -> View:
    """DOT's total wider than its column starts."""
    view = many_assets()
    wallets = (WalletBalance("spot", "main", WHALE - 5), WalletBalance("earn", "bonded", D(5)))
    dot = view.balances["DOT"]._replace(total=WHALE, wallets=wallets, updated_at=NOW - timedelta(minutes=3))
    return replace(view, balances={**view.balances, "DOT": dot}, values={**view.values, "DOT": WHALE * 3})


def cell(table: BalancesTable, asset: str, key: str) -> str:
    return table.get_cell(asset, key).plain.strip()


def detail(app: ThemedApp) -> Static:
    return app.screen.query_one("#row-detail", Static)


async def test_at_80_columns_held_and_the_extras_give_way_and_the_detail_line_shows_held() -> None:
    app = ThemedApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await painted(app, many_assets())(pilot)
        table = app.screen.query_one(BalancesTable)
        assert table.shown_columns == ("asset", "total", "free", "value", "source", "age")
        assert table.dropped_columns == ("held", "updated", "wallets")
        assert table.virtual_size.width <= table.size.width  # nothing to scroll sideways
        line = detail(app)
        assert line.display and str(line.content) == "ADA  held 0"
        await pilot.press("down")  # another row: its figures, at once
        assert str(line.content) == "BTC  held 0"


async def test_a_figure_wider_than_its_column_widens_it_and_keeps_every_digit() -> None:
    app = ThemedApp()
    async with app.run_test(size=(120, 30)) as pilot:
        await painted(app, a_view())(pilot)
        table = app.screen.query_one(BalancesTable)
        narrow = table.columns["total"].width
        app.screen.paint(with_a_whale())
        await pilot.pause()
        assert cell(table, "DOT", "total") == amount(WHALE) and len(amount(WHALE)) > narrow
        assert table.columns["total"].width == len(amount(WHALE))
        for key in table.shown_columns:  # every cell whole in its column
            for row in table.ordered_rows:
                assert len(table.get_cell(row.key, key).plain) <= table.columns[key].width


@pytest.mark.parametrize(("width", "dropped"), [(200, ()), (110, ("wallets",)), (80, ("held", "updated", "wallets"))])
async def test_a_resize_lays_the_columns_out_again_with_the_cursor_on_its_asset(width: int, dropped: tuple) -> None:
    app = ThemedApp()
    async with app.run_test(size=(160, 40)) as pilot:
        await painted(app, many_assets())(pilot)
        table = app.screen.query_one(BalancesTable)
        await pilot.press("down", "down", "down")
        selected = table.selected_asset
        await pilot.resize_terminal(width, 30)
        await pilot.pause()
        assert table.dropped_columns == dropped and table.selected_asset == selected
        assert table.shown_columns == tuple(key for key in COLUMN_KEYS if key not in dropped)
        if "wallets" in table.shown_columns:
            assert cell(table, "DOT", "wallets") == "spot/main, earn/bonded"
        assert detail(app).display == any(key in dropped for key in ("held", "source", "age", "value", "free"))
        assert table.virtual_size.width <= table.size.width


async def test_a_very_narrow_terminal_keeps_the_asset_and_its_whole_total() -> None:
    app = ThemedApp()
    async with app.run_test(size=(40, 20)) as pilot:
        await painted(app, with_a_whale())(pilot)
        table = app.screen.query_one(BalancesTable)
        assert table.shown_columns == ("asset", "total")
        assert cell(table, "DOT", "total") == amount(WHALE)
        await pilot.press("down", "down", "down")  # DOT: its figures under the table, every one exact
        assert table.selected_asset == "DOT"
        value = amount((WHALE * 3).quantize(D("0.01")))  # a valuation: to the cent; and earn is not free
        assert (
            str(detail(app).content) == f"DOT  held 0  free {amount(WHALE - 5)}  value {value} USD  source ws  age 3m"
        )
        assert detail(app).size.height > 1  # wrapped, not cut


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 45), (200, 60)])
def test_main_screen_at_each_size_snapshot(snap_compare, size: tuple[int, int]) -> None:
    app = ThemedApp()
    assert snap_compare(app, terminal_size=size, run_before=painted(app, with_a_whale()))


async def test_the_real_console_resized_while_running(make_config) -> None:
    app = BalanceApp(make_config(), clock=FrozenClock())
    async with app.run_test(size=(200, 60)) as pilot:
        await settled(pilot)
        table = app.screen.query_one(BalancesTable)
        assert table.dropped_columns == ()
        await pilot.press("down")
        selected = table.selected_asset
        for width, height in ((80, 24), (120, 40), (200, 60), (80, 24)):
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            assert table.selected_asset == selected and table.virtual_size.width <= table.size.width
        assert "held" in table.dropped_columns
        await pilot.press("q")
