"""The backend as an operator uses it: the real app on the real simulator, driven by Pilot."""

from __future__ import annotations

import inspect
import os
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine, select
from textual.command import CommandPalette
from textual.widgets import Input, Static
from textual.widgets.data_table import CellDoesNotExist

from balance_tui.kraken.credentials import Credentials
from balance_tui.sim import Simulator
from balance_tui.store.tables import SessionStatus, TradingSession
from balance_tui.tui.adjust_form import AdjustForm
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.asset_panel import AssetPanel
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.engine_panel import EnginePanel
from balance_tui.tui.feed_bar import FeedBar
from balance_tui.tui.issues_panel import IssuesPanel
from balance_tui.view import View
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.conftest import Notices, settled


def total_shown(table: BalancesTable, asset: str) -> str | None:
    try:
        return table.get_cell(asset, "total").plain.strip()
    except CellDoesNotExist:
        return None  # not painted yet


async def test_balances_stream_into_the_table_and_q_closes_the_session(make_config) -> None:
    config = make_config()
    app = BalanceApp(config)
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        manager, sim = app.backend.manager, app.backend.simulator
        table = app.screen.query_one(BalancesTable)

        def shown() -> dict[str, str]:
            return {str(row.key.value): total_shown(table, str(row.key.value)) for row in table.ordered_rows}

        def expected() -> dict[str, str]:
            return {asset: f"{b.total:,f}" for asset, b in manager.get_all_balances().items()}

        await eventually(lambda: shown() == expected(), what="the snapshot in the table")
        first = shown()
        for _ in range(30):
            await sim.step()
        await eventually(lambda: shown() == expected() != first, what="the updates in the table")
        assert "LIVE" in str(app.screen.query_one(FeedBar).content)
        await pilot.press("q")
    assert app.return_code == 0
    with Session(create_engine(config.database_url)) as db:
        (row,) = db.exec(select(TradingSession)).all()
    assert row.status == SessionStatus.CLOSED and row.ended_at is not None


async def test_an_amount_longer_than_a_float_is_shown_with_every_digit(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        sim = app.backend.simulator
        await sim.deposit("BTC", Decimal("12345678.1234567891"))
        total = sim.account.totals()["BTC"]
        assert Decimal(repr(float(total))) != total  # a float could not carry it
        table = app.screen.query_one(BalancesTable)
        await eventually(lambda: total_shown(table, "BTC") == f"{total:,f}", what="the exact total on screen")
        await pilot.press("q")


async def test_what_changed_while_the_feed_was_down_is_announced(make_config) -> None:
    notices = Notices()
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        sim = app.backend.simulator
        await sim.drop_clients()
        await sim.deposit("EUR", Decimal("250"))
        await eventually(lambda: notices.titled("Changed while"), what="a notice")
        (notice,) = notices.titled("Changed while")
        assert notice.severity == "warning"
        assert f"EUR: {sim.account.totals()['EUR'] - 250:,f} -> {sim.account.totals()['EUR']:,f}" in notice.message
        await pilot.press("q")


async def test_the_panels_show_the_selected_asset_the_engine_and_open_issues(make_config) -> None:
    app = BalanceApp(make_config(validation={"low_balance": {"USDT": "1000000"}}))
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        table = app.screen.query_one(BalancesTable)
        await eventually(lambda: table.row_count > 3, what="rows")
        await pilot.press("down", "down")
        asset = table.selected_asset
        await eventually(lambda: app.screen.query_one(AssetPanel).border_title == asset, what="the asset panel")
        engine = app.screen.query_one(EnginePanel)
        await eventually(lambda: engine.border_title == "engine: figures from ws", what="the engine panel")
        issues = app.screen.query_one(IssuesPanel)
        await eventually(lambda: issues.selected is not None, what="the low balance issue")
        row = [cell.plain.strip() for cell in issues.table.get_row_at(0)]
        assert row == ["WARNING", "USDT", "low_balance"] and issues.border_subtitle == "1 open"  # what fits
        assert issues.selected.message.startswith("USDT free")  # whole in the detail, once zoomed
        await pilot.press("q")


async def test_help_lists_the_key_bindings(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")
        await pilot.press("q")


def test_main_screen_snapshot(make_config, snap_compare) -> None:
    app = BalanceApp(make_config(), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=settled)


async def test_an_outage_shows_its_countdown_and_cause_first_and_rest_in_words(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(100, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        feed, engine = app.screen.query_one(FeedBar), app.screen.query_one(EnginePanel)
        await eventually(lambda: "REST     ok" in str(engine.content), what="the REST line in words")
        sim = app.backend.simulator
        sim.faults.refuse_handshakes(1000, 503)
        await sim.drop_clients()

        def visible() -> str:
            return str(feed.content)[: feed.content_region.width]  # the first line of a 100-column terminal

        # The drop's own reason comes first ("connection closed"), then the refused handshakes'.
        outage = r"● RECONNECTING  retry in \d+s  cannot connect to ws://.*HTTP 503"
        await eventually(lambda: re.match(outage, visible()), what="the countdown and the cause on the feed bar")
        assert feed.has_class("-waiting") and not feed.has_class("-live")
        await pilot.press("q")


async def test_live_data_from_an_exchange_in_maintenance_is_not_drawn_as_all_well(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        feed = app.screen.query_one(FeedBar)
        await eventually(lambda: feed.has_class("-live"), what="the live feed")
        app.backend.simulator.faults.set_system_status("maintenance")
        await eventually(lambda: "system maintenance" in str(feed.content), what="the status on the bar")
        assert feed.has_class("-stale") and not feed.has_class("-live")
        await pilot.press("q")


async def test_a_price_feed_that_cannot_connect_says_so_with_its_endpoint(make_config) -> None:
    async with Simulator(seed=3, updates_per_second=0) as exchange:
        config = make_config(
            exchange={
                "name": "kraken",
                "rest_url": exchange.rest_url,
                "ws_private_url": exchange.ws_private_url,
                "ws_public_url": "ws://127.0.0.1:9/v2",  # nothing listens there
            }
        )
        app = BalanceApp(config, Credentials.of(exchange.api_key, exchange.api_secret))
        async with app.run_test(size=(120, 30)) as pilot:
            total = app.screen.query_one("#total", Static)
            await eventually(lambda: "no USD prices: cannot connect to ws://127.0.0.1:9/v2" in str(total.content))
            await pilot.press("q")


async def test_ctrl_c_quits_and_closes_the_session(make_config) -> None:
    config = make_config()
    app = BalanceApp(config)
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.session is not None, what="the session")
        await pilot.press("ctrl+c")
        await eventually(lambda: not app.is_running, what="the app to quit")
    with Session(create_engine(config.database_url)) as db:
        (row,) = db.exec(select(TradingSession)).all()
    assert row.status == SessionStatus.CLOSED


async def test_home_and_end_go_to_the_first_and_last_row(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        table = app.screen.query_one(BalancesTable)
        await eventually(lambda: table.row_count > 3, what="rows")
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("q")


async def test_a_screenshot_goes_to_the_data_directory_and_says_where(make_config, tmp_path) -> None:
    notices = Notices()
    home = Path(os.environ["HOME"])
    assert not (home / "Downloads").exists()  # as on most servers
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        app.deliver_screenshot()
        folder = Path(os.environ["XDG_DATA_HOME"]) / "balance-tui" / "screenshots"
        await eventually(lambda: notices.titled("Screenshot"), what="the notice")
        (saved,) = folder.glob("*.svg")
        assert "<svg" in saved.read_text()[:200]
        assert str(saved) in notices.titled("Screenshot")[0].message
        await pilot.press("q")


async def test_no_animations_and_no_blinking_cursor_even_off_ssh(make_config, monkeypatch) -> None:
    for name in ("SSH_CONNECTION", "SSH_TTY", "TEXTUAL_ANIMATIONS"):
        monkeypatch.delenv(name, raising=False)
    app = BalanceApp(make_config())
    assert app.animation_level == "none"
    async with app.run_test(size=(120, 32)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")

        def steady() -> bool:
            return isinstance(app.focused, Input) and not app.focused.cursor_blink

        await pilot.press("a")
        await eventually(lambda: isinstance(app.screen, AdjustForm), what="the form")
        await eventually(steady, what="a steady cursor in the form")
        app.screen.query_one("#reason", Input).focus()
        await eventually(lambda: steady() and app.focused.id == "reason", what="a steady cursor in the next field")
        await pilot.press("escape", "ctrl+p")
        await eventually(lambda: isinstance(app.screen, CommandPalette), what="the command palette")
        await eventually(steady, what="a steady cursor in the palette")
        await pilot.press("escape", "q")


async def test_p_freezes_the_picture_while_the_feed_carries_on(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
        manager, sim = app.backend.manager, app.backend.simulator
        table = app.screen.query_one(BalancesTable)
        await eventually(lambda: total_shown(table, "USD") is not None, what="the table")
        await pilot.press("p")
        assert [b.text for b in app.badges] == ["PAUSED", "LIVE", "10 Hz"]
        frozen = total_shown(table, "USD")
        await sim.deposit("USD", Decimal("1000"))
        await eventually(lambda: f"{manager.get_balance('USD').total:,f}" != frozen, what="the deposit in the engine")
        await pilot.pause(0.6)
        assert total_shown(table, "USD") == frozen  # the picture holds; the data kept flowing
        await pilot.press("p")
        await eventually(lambda: total_shown(table, "USD") == f"{manager.get_balance('USD').total:,f}", what="repaint")
        assert [b.text for b in app.badges] == ["LIVE", "10 Hz"]
        await pilot.press("q")


async def test_r_cycles_the_refresh_rate_within_2_to_10_hz(make_config) -> None:
    app = BalanceApp(make_config(ui={"refresh_hz": 8}))
    async with app.run_test(size=(120, 30)) as pilot:
        seen = []
        for _ in range(4):
            await pilot.press("r")
            seen.append(app.refresh_hz)
        assert seen == [10, 2, 4, 6] and app.badges[-1].text == "6 Hz"
        await pilot.press("q")


def test_paused_snapshot(make_config, snap_compare) -> None:
    async def paused(pilot) -> None:
        await settled(pilot)
        await pilot.press("p")

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(110, 24), run_before=paused)


@pytest.mark.parametrize("theme", ["balance-light", "balance-high-contrast"])
def test_main_screen_snapshot_in_the_other_bundled_themes(make_config, snap_compare, theme: str) -> None:
    app = BalanceApp(make_config(ui={"theme": theme}), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=settled)


def test_main_screen_snapshot_with_no_color(make_config, snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: every state still reads in words."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = BalanceApp(make_config(ui={"theme": "balance-high-contrast"}), clock=FrozenClock())
    assert snap_compare(app, terminal_size=(110, 24), run_before=settled)


@pytest.mark.parametrize("size", [(130, 40), (80, 24)], ids=["130x40", "80x24"])
def test_help_snapshot(make_config, snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await eventually(lambda: pilot.app.screen.query("HelpPanel"), what="the help panel")

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=size, run_before=run_before)


async def test_a_crash_report_shows_no_local_values(make_config, capfd: pytest.CaptureFixture[str]) -> None:
    """Textual's report prints every frame's locals; one that signs a request holds the raw key."""

    canary = f"CANARY-{uuid.uuid4().hex}"  # made at run time: the report's source lines cannot hold it

    class Crashing(BalanceApp):
        CSS_PATH = Path(inspect.getfile(BalanceApp)).parent / BalanceApp.CSS_PATH

        def action_crash(self) -> None:
            api_sign = canary  # as KrakenRest._signed holds the signature
            raise RuntimeError(f"failed after signing ({len(api_sign)} chars)")

    app = Crashing(make_config())
    with pytest.raises(RuntimeError, match="failed after signing"):
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.call_later(app.action_crash)
            await pilot.pause(0.5)
    report = capfd.readouterr().err  # Textual prints its report there on the way out
    assert "RuntimeError" in report and "failed after signing" in report
    assert canary not in report


async def test_the_ages_move_in_the_frame_of_the_second(make_config) -> None:
    """At rest the second is the only thing that paints: the header's clock and the ages move as the app's
    second does, in one frame (each at its own timer, a quiet console painted twice a second)."""
    clock = FrozenClock()  # a still feed and a still clock: no tick has news
    app = BalanceApp(make_config(), clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        feed = app.screen.query_one(FeedBar)
        shown = str(feed.content)
        clock.advance(60)
        await eventually(lambda: app.second == int(clock.now().timestamp()), what="the app's second to move")
        assert str(feed.content) != shown  # painted as the second moved, not at a later tick


async def test_a_tick_with_nothing_new_reads_and_paints_nothing(make_config, monkeypatch) -> None:
    clock = FrozenClock()  # the second does not move: only news can make a tick paint
    app = BalanceApp(make_config(), clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        screen = app.screen
        reads: list[object] = []
        read = View.read
        monkeypatch.setattr(View, "read", staticmethod(lambda *args: reads.append(args) or read(*args)))
        screen.refresh_view()
        screen.refresh_view()
        assert len(reads) <= 1  # the first may still see the last tick's news
        reads.clear()
        screen.refresh_view()
        assert reads == []
        await app.backend.simulator.step()
        await eventually(lambda: bool(screen.refresh_view() or reads), what="a tick that reads the news")
