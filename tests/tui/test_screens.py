"""The ledger and asset screens on the real app and the real simulator, driven by Pilot, on a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from textual.widgets import DataTable, Select, Sparkline, Static

from balance_tui.core import Balance
from balance_tui.core.events import Source
from balance_tui.store.history import history, ledger
from balance_tui.store.tables import LedgerEntryRecord
from balance_tui.tui import asset_screen, ledger_screen
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.asset_screen import POINTS, AssetScreen
from balance_tui.tui.formatting import amount
from balance_tui.tui.ledger_screen import AssetFilter, LedgerScreen, TypeFilter, grouped, read_ledger
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually

D = Decimal
SAMPLE_EVERY = timedelta(minutes=10)


async def ready(app: BalanceApp) -> None:
    await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the console")


@asynccontextmanager
async def console(make_config, size: tuple[int, int] = (140, 32)) -> AsyncIterator[tuple[BalanceApp, Any, FrozenClock]]:
    """The real app on a still simulator and a frozen clock, ready (the first snapshot in)."""
    clock = FrozenClock()
    app = BalanceApp(make_config(), clock=clock)
    async with app.run_test(size=size) as pilot:
        await ready(app)
        yield app, pilot, clock


def stored_entries(app: BalanceApp) -> int:
    return ledger(app.backend.store, since=app.backend.session.started_at).total


async def activity(app: BalanceApp, clock: FrozenClock) -> int:
    """A deposit and a withdrawal of BTC, then the simulator's own activity (seed 7: an ETH/USD trade, a
    resting order, a BTC/USD trade), ten minutes apart; returns how many ledger entries the store has then."""
    sim = app.backend.simulator
    made = await sim.deposit("BTC", D("0.25"))
    clock.advance(600)
    made += await sim.withdraw("BTC", D("0.1"))
    for _ in range(3):
        clock.advance(600)
        made += await sim.step()
    assert [e.type for e in made] == ["deposit", "withdrawal", "trade", "trade", "trade", "trade"]
    await eventually(lambda: stored_entries(app) == len(made), what="the entries in the store")
    return len(made)


def rows(table: DataTable) -> list[list[str]]:
    """Each row's cells as read, without the padding that aligns them."""
    return [[cell.plain.strip() for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def open_ledger(pilot, count: int) -> DataTable:
    await pilot.press("l")
    await eventually(lambda: isinstance(pilot.app.screen, LedgerScreen), what="the ledger")
    await pilot.pause()  # composed
    table = pilot.app.screen.query_one("#ledger", DataTable)
    await eventually(lambda: table.row_count == count, what=f"{count} rows")
    return table


async def open_btc(pilot) -> tuple[DataTable, DataTable]:
    """BTC's asset screen once it shows the open orders and the three entries of `activity`: (orders, entries)."""
    pilot.app.open_asset("BTC")
    await eventually(lambda: isinstance(pilot.app.screen, AssetScreen), what="the asset screen")
    await pilot.pause()  # composed
    orders = pilot.app.screen.query_one("#asset-orders", DataTable)
    entries = pilot.app.screen.query_one("#asset-ledger", DataTable)
    await eventually(lambda: entries.row_count == 3 and orders.row_count > 0, what="the BTC entries and orders")
    return orders, entries


async def test_the_ledger_lists_the_sessions_entries_newest_first_with_the_legs_of_a_trade_together(
    make_config,
) -> None:
    async with console(make_config) as (app, pilot, clock):
        count = await activity(app, clock)
        table = await open_ledger(pilot, count)
        shown = rows(table)
        # legs, when, type, asset, amount, fee, balance after, ref, wallet
        assert [(r[0], r[1][11:], r[2], r[3]) for r in shown] == [
            ("┌", "12:40:00", "trade", "USD"),
            ("└", "12:40:00", "trade", "BTC"),
            ("┌", "12:20:00", "trade", "USD"),
            ("└", "12:20:00", "trade", "ETH"),
            ("", "12:10:00", "withdrawal", "BTC"),
            ("", "12:00:00", "deposit", "BTC"),
        ]
        assert shown[0][7] == shown[1][7] != shown[2][7] == shown[3][7]  # one ref_id per trade
        assert shown[5][4:6] == ["+0.25", "0"] and shown[4][4:6] == ["-0.1", "0"]  # amount, fee
        assert shown[5][8] == "spot/main"
        heading = str(app.screen.query_one("#ledger-heading", Static).content)
        assert heading.startswith("session #1 (active) since 2026-11-20 12:00 UTC: 6 ledger entries from the store")
        clock.advance(600)
        await app.backend.simulator.deposit("USD", D("100"))  # while the screen is open
        await eventually(lambda: table.row_count == count + 1, what="the new entry")
        assert rows(table)[0][1:5] == ["2026-11-20 12:50:00", "deposit", "USD", "+100"]
        await pilot.press("escape")
        assert not isinstance(app.screen, LedgerScreen)
        await pilot.press("q")


@pytest.mark.parametrize(
    ("width", "left_out"), [(80, ("fee", "ref", "wallet")), (110, ("wallet",)), (200, ())], ids=["80", "110", "200"]
)
async def test_the_ledger_fits_its_width_and_shows_what_gave_way_for_the_selected_entry(
    make_config, width: int, left_out: tuple[str, ...]
) -> None:
    async with console(make_config, (width, 24)) as (app, pilot, clock):
        count = await activity(app, clock)
        table = await open_ledger(pilot, count)
        await pilot.pause()
        shown = [column.key.value for column in table.ordered_columns]
        assert shown == [k for k, *_ in ledger_screen.COLUMNS if k not in left_out]
        assert sum(c.get_render_width(table) for c in table.ordered_columns) < table.size.width  # no sideways scroll
        entries = [e for _, e in grouped(ledger(app.backend.store, since=app.backend.session.started_at).entries)]
        entry = entries[0]
        first = dict(zip(shown, rows(table)[0], strict=True))
        assert (first["amount"], first["balance"]) == (f"{entry.amount:+,f}", amount(entry.balance))
        detail = app.screen.query_one("#ledger-detail", Static)
        assert detail.display == bool(left_out)

        def said(e: LedgerEntryRecord) -> str:
            return "  ".join({"fee": f"fee {amount(e.fee)}", "ref": f"ref {e.ref_id}",
                              "wallet": f"wallet {e.wallet_type}/{e.wallet_id}"}[k] for k in left_out)  # fmt: skip

        assert str(detail.content) == said(entry)
        await pilot.press("down")  # the line follows the cursor
        await pilot.pause()
        assert str(detail.content) == said(entries[1])


async def test_a_ledger_read_after_the_first_reads_only_what_the_store_got_since(make_config) -> None:
    async with console(make_config) as (app, pilot, clock):
        count = await activity(app, clock)
        page = await read_ledger(app.backend, None)
        assert page.ledger.total == count and page.last_id == max(e.id for e in page.ledger.entries)
        assert await read_ledger(app.backend, page) is page  # nothing new: the page shown stays
        clock.advance(600)
        await app.backend.simulator.deposit("USD", D("100"))
        await eventually(lambda: stored_entries(app) == count + 1, what="the deposit in the store")
        grown = await read_ledger(app.backend, page)
        assert grown.ledger.total == count + 1 and grown.last_id > page.last_id
        assert [e.id for e in grown.ledger.entries] == [grown.last_id, *(e.id for e in page.ledger.entries)]
        await pilot.press("q")


async def test_the_ledger_filter_narrows_by_asset_and_type_and_esc_clears_it(make_config) -> None:
    async with console(make_config) as (app, pilot, clock):
        count = await activity(app, clock)
        table = await open_ledger(pilot, count)
        await pilot.press("slash", "x", "b", "t")  # Kraken's name for BTC; printable keys go to the filter
        assert isinstance(app.screen, LedgerScreen) and app.screen.query_one(AssetFilter).value == "xbt"
        await eventually(lambda: table.row_count == 3, what="the BTC entries")
        assert {r[3] for r in rows(table)} == {"BTC"} and all(r[0] == "" for r in rows(table))  # no legs left
        app.screen.query_one(TypeFilter).value = "trade"
        await eventually(lambda: table.row_count == 1, what="the BTC trade")
        heading = str(app.screen.query_one("#ledger-heading", Static).content)
        assert heading.endswith("·  1 with asset xbt and type trade")
        await pilot.press("escape")  # in the asset filter: clears it
        assert app.screen.query_one(AssetFilter).value == ""
        await eventually(lambda: table.row_count == 4, what="every trade leg")
        app.screen.query_one(TypeFilter).focus()
        await pilot.press("escape")  # in the type filter: every type again
        assert app.screen.query_one(TypeFilter).value is Select.NULL
        await eventually(lambda: table.row_count == count, what="every entry")
        await pilot.press("escape")  # nothing left to clear: back
        assert not isinstance(app.screen, LedgerScreen)
        await pilot.press("q")


async def test_a_failed_read_is_said_in_each_screens_heading(make_config, monkeypatch) -> None:
    def broken(*_args: object, **_kw: object) -> None:
        raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(ledger_screen, "ledger", broken)
    monkeypatch.setattr(asset_screen, "history", broken)
    async with console(make_config) as (app, pilot, _):
        await pilot.press("l")
        await eventually(lambda: isinstance(app.screen, LedgerScreen), what="the ledger")
        await pilot.pause()  # composed
        heading = app.screen.query_one("#ledger-heading", Static)
        await eventually(lambda: "cannot read the ledger:" in str(heading.content), what="the failure")
        assert "disk I/O error" in str(heading.content)
        await pilot.press("escape", "enter")
        await eventually(lambda: isinstance(app.screen, AssetScreen), what="the asset screen")
        await pilot.pause()
        heading = app.screen.query_one("#asset-heading", Static)
        await eventually(lambda: "cannot read ADA's history:" in str(heading.content), what="the failure")
        assert "disk I/O error" in str(heading.content)
        await pilot.press("escape", "q")


async def seed_history(app: BalanceApp, asset: str, *, days: int) -> int:
    """`days` of samples of `asset`, every ten minutes up to now, through the console's own history writer
    (as if it had run that long); returns how many the store has of it."""
    backend = app.backend
    now = backend.manager.clock.now()
    count = days * 24 * 6
    for i in range(count, 0, -1):
        total = D("1.5") + D(i % 37) / 100  # wanders between 1.5 and 1.86
        backend.history_writer.record_balance(Balance(asset, total, (), Source.WS, now - SAMPLE_EVERY * i))

    def stored() -> int:
        return history(backend.store, asset, since=now - timedelta(days=days + 1), until=now).samples

    await eventually(lambda: stored() > count, what="the samples in the store")  # and the live ones
    return stored()


async def test_enter_on_a_balances_row_opens_that_asset_and_the_range_keys_change_the_points(make_config) -> None:
    async with console(make_config, (140, 40)) as (app, pilot, _):
        table = app.screen.query_one("#balances", DataTable)
        await eventually(lambda: table.row_count > 2, what="rows")
        await seed_history(app, "BTC", days=3)
        await pilot.press("down", "enter")  # ADA, then BTC
        await eventually(lambda: isinstance(app.screen, AssetScreen), what="the asset screen")
        screen = app.screen
        assert screen.asset == "BTC"
        heading = screen.query_one("#asset-heading", Static)
        readings, points = {}, {}
        for key, hours, span in (("2", 24, "24 h"), ("1", 1, "1 h"), ("3", 168, "7 d")):
            await pilot.press(key)
            await eventually(lambda span=span: f"over the last {span}:" in str(heading.content), what=span)
            readings[span] = str(heading.content)
            now = app.backend.manager.clock.now()
            read = history(app.backend.store, "BTC", since=now - timedelta(hours=hours), until=now, points=POINTS)
            points[span] = (read.samples, len(read.points))
        # Every 10 min (and the live samples now): an hour's all shown, a day's and 3 days' merged.
        samples, shown = points["1 h"]
        assert samples == shown and readings["1 h"].startswith(f"BTC over the last 1 h: all {samples} samples, from ")
        for span, width in (("24 h", "15 min"), ("7 d", "1 h")):
            samples, shown = points[span]
            assert readings[span].startswith(
                f"BTC over the last {span}: {samples} samples merged into {shown} points, the last of each {width}"
            )
        assert len({shown for _, shown in points.values()}) == 3  # each range its own count of points
        plot = screen.query_one(Sparkline)
        await pilot.pause()  # laid out at the width the chart gave it
        assert len(plot.data) == plot.size.width  # one bar per column of time
        await pilot.press("escape")
        assert app.screen.query_one("#balances", DataTable) is table
        await pilot.press("q")


async def test_the_asset_screen_shows_its_trend_wallets_orders_and_ledger(make_config) -> None:
    async with console(make_config, (140, 40)) as (app, pilot, clock):
        await activity(app, clock)
        app.open_asset("BTC")
        await eventually(lambda: isinstance(app.screen, AssetScreen), what="the asset screen")
        await pilot.pause()  # composed
        entries = app.screen.query_one("#asset-ledger", DataTable)
        await eventually(lambda: entries.row_count == 3, what="the BTC entries")
        assert [(r[0][11:], r[1], r[2]) for r in rows(entries)] == [
            ("12:40:00", "trade", "-0.01620158"),
            ("12:10:00", "withdrawal", "-0.1"),
            ("12:00:00", "deposit", "+0.25"),
        ]
        balance = app.backend.manager.get_balance("BTC")
        wallets = str(app.screen.query_one("#asset-wallets", Static).content)
        assert wallets.startswith(f"total {balance.total:,f}: spot/main {balance.total:,f}")
        orders = app.screen.query_one("#asset-orders", DataTable)
        expected = [o for o, _ in app.backend.manager.orders.listed() if "BTC" in (o.base, o.quote)]
        await eventually(lambda: orders.row_count == len(expected) > 0, what="the BTC orders")
        assert [r[0] for r in rows(orders)] == [o.order_id for o in expected]
        trend = str(app.screen.query_one("#asset-trend", Static).content)
        assert trend.startswith("trend over the last 24 h the engine keeps: ")
        marks = str(app.screen.query_one("#time-axis", Static).content)
        assert {"▲", "▼", "◆"} <= set(marks)
        await pilot.press("escape", "q")


async def test_at_80_by_24_the_asset_screen_keeps_what_orders_hold_whole_and_rows_for_its_ledger(make_config) -> None:
    async with console(make_config, (80, 24)) as (app, pilot, clock):
        await activity(app, clock)
        orders, entries = await open_btc(pilot)
        await pilot.pause()
        order, held = next((o, h) for o, h in app.backend.manager.orders.listed() if "BTC" in (o.base, o.quote))
        assert [c.key.value for c in orders.ordered_columns] == ["pair", "side", "quantity", "filled", "limit", "holds"]
        assert sum(c.get_render_width(orders) for c in orders.ordered_columns) < orders.size.width  # no sideways scroll
        assert rows(orders)[0][-1] == f"{amount(held[1])} {held[0]}"
        assert str(app.screen.query_one("#asset-orders-detail", Static).content) == f"order {order.order_id}"
        assert entries.size.height >= 4  # its heading row and three entries: the chart gave up rows
        assert app.screen.query_one("#plot").size.height == 3 and not app.screen.query_one("#legend").display


@pytest.mark.parametrize(
    "size", [(130, 20), (80, 24), (120, 30), (200, 60)], ids=["130x20", "80x24", "120x30", "200x60"]
)
def test_ledger_screen_snapshot(make_config, snap_compare, size: tuple[int, int]) -> None:
    clock = FrozenClock()

    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app)
        count = await activity(app, clock)
        await open_ledger(pilot, count)
        app.clear_notifications()

    assert snap_compare(BalanceApp(make_config(), clock=clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize(
    "size", [(130, 40), (80, 24), (120, 35), (200, 60)], ids=["130x40", "80x24", "120x35", "200x60"]
)
def test_asset_screen_snapshot(make_config, snap_compare, size: tuple[int, int]) -> None:
    clock = FrozenClock()

    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app)
        await seed_history(app, "BTC", days=1)
        await activity(app, clock)
        await open_btc(pilot)
        app.clear_notifications()

    assert snap_compare(BalanceApp(make_config(), clock=clock), terminal_size=size, run_before=run_before)
