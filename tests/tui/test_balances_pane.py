"""The balances pane as an operator drives it: sort by any column, filter by asset, hide dust, see what changed."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input

from balance_tui.tui.app import BalanceApp
from balance_tui.tui.balances_pane import BalancesPane
from balance_tui.tui.balances_table import BalancesTable
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.conftest import Notices, settled

DUST = {"dust_below": "9000"}  # in USD: two of the simulator's assets are worth less


def rows(table: BalancesTable) -> list[str]:
    return [str(row.key.value) for row in table.ordered_rows]


def column(table: BalancesTable, key: str) -> list[Decimal | None]:
    """A column's figures as the operator reads them, top to bottom."""
    shown = [table.get_cell(asset, key).plain.strip().replace(",", "") for asset in rows(table)]
    return [None if text == "-" else Decimal(text) for text in shown]


def labels(table: BalancesTable) -> list[str]:
    return [column.label.plain.strip() for column in table.ordered_columns]


def heading(app: BalanceApp) -> str:
    return str(app.screen.query_one(BalancesPane).border_title)


def worth(app: BalanceApp) -> dict[str, Decimal | None]:
    backend = app.backend
    return {
        asset: backend.prices.value(asset, b.total, "USD") for asset, b in backend.manager.get_all_balances().items()
    }


async def test_s_sorts_by_the_next_column_shift_s_reverses_a_header_click_sorts_by_it(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        table = app.screen.query_one(BalancesTable)
        assert rows(table) == sorted(rows(table)) and labels(table)[0] == "Asset▲"
        await pilot.press("down", "down")
        selected = table.selected_asset
        await pilot.press("s")
        assert labels(table)[:2] == ["Asset", "Total▼"]
        assert rows(table).index(selected) != 2 and table.selected_asset == selected  # the cursor follows its row
        totals = column(table, "total")
        assert totals == sorted(totals, reverse=True) and len(set(totals)) == len(totals)
        await pilot.press("S")
        assert labels(table)[1] == "Total▲" and column(table, "total") == sorted(totals)
        # Value is the fifth column: a click three cells into its header.
        value_at = sum(table.columns[key].get_render_width(table) for key in ("asset", "total", "held", "free")) + 3
        await pilot.click(BalancesTable, offset=(value_at, 0))
        assert labels(table)[4] == "Value▼"
        values = column(table, "value")
        assert None not in values and values == sorted(values, reverse=True)
        await pilot.click(BalancesTable, offset=(value_at, 0))
        assert labels(table)[4] == "Value▲" and column(table, "value") == sorted(values)
        assert table.shown_columns[4] == "value" and not table.dropped_columns  # 120 columns: room for all
        for _ in range(len(table.shown_columns) - 4):  # from value, through every column after it, to the start
            await pilot.press("s")
        assert labels(table)[0] == "Asset▲" and rows(table) == sorted(rows(table))
        await pilot.press("q")


async def test_slash_filters_live_enter_keeps_it_and_esc_brings_every_row_back(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        table = app.screen.query_one(BalancesTable)
        everything = rows(table)
        await pilot.press("slash")
        line, bar = app.screen.query_one("#filter", Input), app.screen.query_one("#filter-bar")
        assert app.focused is line and bar.display
        await pilot.press("u")
        # Live, whatever the case.
        await eventually(lambda: rows(table) == sorted(a for a in everything if "U" in a), what="the rows with u")
        await pilot.press("s", "d", "t")  # typed, not keys
        await eventually(lambda: rows(table) == ["USDT"], what="the rows with usdt")
        assert line.value == "usdt" and table.show_dust is False
        assert heading(app) == f"balances  ·  filter: usdt (1 of {len(everything)})"
        await pilot.press("enter")
        assert app.focused is table and not bar.display
        assert rows(table) == ["USDT"] and "filter: usdt (1 of" in heading(app)
        await pilot.press("escape")
        assert rows(table) == everything and heading(app) == "balances"
        await pilot.press("slash", "x", "y", "z")
        await eventually(lambda: rows(table) == [], what="no row")
        assert table.selected_asset is None and "filter: xyz (0 of" in heading(app)
        await pilot.press("escape")  # from the filter line: cleared and closed
        assert rows(table) == everything and not bar.display and line.value == ""
        await pilot.press("escape", "q")  # nothing to clear now: esc is not the filter's


async def test_dust_is_hidden_the_heading_counts_it_and_d_shows_it(make_config) -> None:
    app = BalanceApp(make_config(ui=DUST))
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        table = app.screen.query_one(BalancesTable)
        dust = sorted(a for a, v in worth(app).items() if v is not None and v < 9000)
        assert len(dust) == 2
        await eventually(lambda: not set(dust) & set(rows(table)), what="the dust hidden")
        assert heading(app) == "balances  ·  2 under 9,000 USD hidden"
        everything = sorted(app.backend.manager.get_all_balances())
        assert sorted(rows(table)) == sorted(set(everything) - set(dust))
        await pilot.press("d")
        assert rows(table) == everything and heading(app) == "balances  ·  2 under 9,000 USD shown"
        await pilot.press("d")
        assert not set(dust) & set(rows(table))
        await pilot.press("q")


async def test_with_no_dust_threshold_d_says_how_to_set_one(make_config) -> None:
    notices = Notices()
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        await settled(pilot)
        await pilot.press("d")
        (notice,) = notices.titled("Dust")
        assert "set [ui] dust_below" in notice.message
        assert len(rows(app.screen.query_one(BalancesTable))) == len(app.backend.simulator.account.totals())
        await pilot.press("q")


async def test_a_changed_total_is_highlighted_and_the_highlight_fades_in_three_seconds(make_config) -> None:
    clock = FrozenClock()
    app = BalanceApp(make_config(), clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        table = app.screen.query_one(BalancesTable)
        assert all(table.highlight(asset) is None for asset in rows(table))  # the first figures are no change
        sim = app.backend.simulator
        await sim.deposit("BTC", Decimal("0.5"))
        await eventually(lambda: table.highlight("BTC") == 0, what="the highlight")
        up = table.get_component_rich_style("balances-table--up-0", partial=True)
        assert up.bgcolor is not None
        total = table.get_cell("BTC", "total")
        assert [span.style for span in total.spans] == [up]
        assert total.spans[0].start == len(total.plain) - len(total.plain.strip())  # the figure, not the padding
        assert not table.get_cell("BTC", "asset").spans and not table.get_cell("BTC", "held").spans  # unmoved
        assert table.highlight("ETH") is None
        for step in (1, 2):
            clock.advance(1)
            await eventually(lambda step=step: table.highlight("BTC") == step, what=f"fade step {step}")
        clock.advance(1)
        await eventually(lambda: table.highlight("BTC") is None, what="the highlight gone")
        assert not table.get_cell("BTC", "total").spans
        await sim.withdraw("ETH", Decimal("1"))
        await eventually(lambda: table.highlight("ETH") == 0, what="a fall")
        down = table.get_component_rich_style("balances-table--down-0", partial=True)
        assert down != up and table.get_cell("ETH", "total").spans[0].style == down
        await pilot.press("q")


# Snapshots: a still simulator and a frozen clock, so each picture is the same on every run.


def test_filter_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("slash", "u", "s")
        table = pilot.app.screen.query_one(BalancesTable)
        await eventually(lambda: rows(table) == ["USD", "USDC", "USDT"], what="the filtered rows")

    app = BalanceApp(make_config(), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=run_before)


def test_sorted_by_value_descending_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("s", "s", "s", "s")
        table = pilot.app.screen.query_one(BalancesTable)
        await eventually(lambda: labels(table)[4] == "Value▼", what="the value order")

    app = BalanceApp(make_config(), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=run_before)


def test_dust_hidden_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await eventually(lambda: "2 under 9,000 USD hidden" in heading(pilot.app), what="the dust hidden")

    app = BalanceApp(make_config(ui=DUST), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=run_before)


def test_changed_row_highlighted_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        table = pilot.app.screen.query_one(BalancesTable)
        await pilot.app.backend.simulator.deposit("BTC", Decimal("0.5"))
        await eventually(lambda: table.highlight("BTC") == 0, what="the highlight")

    app = BalanceApp(make_config(), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=run_before)
