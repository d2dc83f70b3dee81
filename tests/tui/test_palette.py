"""The command palette offers every screen and action, each only where its key works, naming the key."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.content import Content
from textual.pilot import Pilot

from balance_tui import ui_names
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.asset_screen import AssetScreen
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.books_screen import BooksScreen
from balance_tui.tui.commands import COMMANDS, NO_COMMAND
from balance_tui.tui.history_panel import HistoryPanel
from balance_tui.tui.main_screen import MainScreen
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.conftest import settled


def test_every_binding_has_a_command_or_says_why_not() -> None:
    assert COMMANDS.keys() | NO_COMMAND == ui_names.binding_ids()
    assert not COMMANDS.keys() & NO_COMMAND


def offered(app: BalanceApp) -> dict[str, str]:
    """Title -> help line of each command the palette would offer over the current screen."""
    return {title: help for title, help, *_ in app.get_system_commands(app.screen)}


async def run_command(pilot: Pilot, query: str, title: str) -> None:
    """Open the palette, type `query`, and run the hit `title` with enter (it must be the first one)."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await eventually(lambda: isinstance(app.screen, CommandPalette), what="the palette")
    await pilot.press(*query)
    palette = app.screen
    hits = palette.query_one(CommandList)

    def first() -> str:
        return str(hits.get_option_at_index(0).prompt).split("\n")[0] if hits.option_count else ""

    await eventually(lambda: first().startswith(title), what=f"{title!r} first for {query!r} (first: {first()!r})")
    await pilot.press("down", "enter")
    await eventually(lambda: not isinstance(app.screen, CommandPalette), what="the palette to close")
    await pilot.pause()


async def ready(pilot: Pilot) -> BalanceApp:
    app = pilot.app
    await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the snapshot")
    await pilot.pause()
    return app


async def test_the_main_screen_offers_its_keys_each_naming_it(make_config) -> None:
    async with BalanceApp(make_config()).run_test(size=(120, 30)) as pilot:
        app = await ready(pilot)
        commands = offered(app)
        for title, key in (
            ("Quit", "q or ^c or ^q"), ("Keys", "?"), ("Books", "b"), ("Adjust a balance", "a"),
            ("Pause or resume", "p"),
            ("Refresh rate: the next one", "r"), ("History pane: show or hide", "6"), ("Zoom", "z"),
            ("Issues", "i"), ("Sort by the next column", "s"), ("Filter the balances", "/"),
            ("Dust: show or hide", "d"), ("Ledger", "l"), ("Trading sessions", "t"),
        ):  # fmt: skip
            assert commands[title].endswith(f"(key {key})"), (title, commands.get(title))
        assert {f"Refresh rate {hz} Hz" for hz in (2, 4, 6, 8)} <= commands.keys()  # not the 10 Hz it runs at
        assert "Refresh rate 10 Hz" not in commands
        assert {"Sort by Total", "Sort by Value", "Sort by Asset, the other way round"} <= commands.keys()
        assert {"Theme", "Screenshot"} <= commands.keys()
        # The palette reads help as markup: what looks like a tag is shown as written.
        assert "[ui] dust_below" in Content.from_markup(commands["Dust: show or hide"]).plain
        # No filter to clear (esc): no command for it; the other screens' keys are not offered here.
        assert "Clear the filter" not in commands and "Undo the selected adjustment" not in commands


async def test_a_command_runs_the_key_s_action(make_config) -> None:
    async with BalanceApp(make_config()).run_test(size=(120, 30)) as pilot:
        app = await ready(pilot)
        history = app.screen.query_one(HistoryPanel)
        assert not history.display  # a short terminal leaves it out
        await run_command(pilot, "history pane", "History pane: show or hide")
        assert history.display
        await run_command(pilot, "refresh rate 8", "Refresh rate 8 Hz")
        assert app.refresh_hz == 8 and app.badges[-1].text == "8 Hz"
        await run_command(pilot, "sort by total", "Sort by Total")
        assert app.screen.query_one(BalancesTable).sort_order.column == "total"
        await run_command(pilot, "pause", "Pause or resume")
        assert app.paused and app.badges[0].text == "PAUSED"
        await run_command(pilot, "books", "Books")
        assert isinstance(app.screen, BooksScreen)
        assert "Undo the selected adjustment" in offered(app) and "Zoom" not in offered(app)
        await run_command(pilot, "back", "Back")
        assert isinstance(app.screen, MainScreen)


async def test_a_key_that_cannot_run_has_no_command(make_config) -> None:
    async with BalanceApp(make_config()).run_test() as pilot:  # the store must exist for a read-only console
        await ready(pilot)
        await pilot.press("q")
    async with BalanceApp(make_config(store={"read_only": True})).run_test(size=(120, 30)) as pilot:
        app = await ready(pilot)
        assert "Adjust a balance" not in offered(app)  # shown disabled in the footer: read-only
        assert "Books" in offered(app)
        await pilot.press("b")
        await eventually(lambda: isinstance(app.screen, BooksScreen), what="the books")
        assert "Undo the selected adjustment" not in offered(app)


async def test_the_help_line_names_the_key_as_remapped(make_config) -> None:
    async with BalanceApp(make_config(keymap={"app.pause": "P", "balances.dust": "D"})).run_test() as pilot:
        app = await ready(pilot)
        assert offered(app)["Pause or resume"].endswith("(key P)")
        assert offered(app)["Dust: show or hide"].endswith("(key D)")


async def test_an_asset_is_found_by_typing_not_listed_before(make_config) -> None:
    async with BalanceApp(make_config()).run_test(size=(120, 30)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+p")
        await eventually(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        hits = app.screen.query_one(CommandList)
        await eventually(lambda: hits.option_count > 0, what="the commands listed")
        listed = [str(hits.get_option_at_index(i).prompt).split("\n")[0] for i in range(hits.option_count)]
        assert {"Books", "Sort by the next column", "Refresh rate: the next one"} <= set(listed)
        variants = {f"Asset {asset}" for asset in app.backend.manager.get_all_balances()} | {
            "Sort by Total",
            "Refresh rate 2 Hz",
        }
        assert not variants & set(listed)
        await pilot.press("escape")
        await eventually(lambda: not isinstance(app.screen, CommandPalette), what="the palette to close")
        await run_command(pilot, "asset btc", "Asset BTC")
        assert isinstance(app.screen, AssetScreen) and app.screen.asset == "BTC"


def test_palette_at_80_by_24_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settled(pilot)
        await pilot.press("ctrl+p")
        await eventually(lambda: isinstance(pilot.app.screen, CommandPalette), what="the palette")
        await pilot.press(*"sort")
        palette = pilot.app.screen
        hits = palette.query_one(CommandList)

        def found() -> bool:
            return hits.option_count > 0 and not any(w.is_running for w in pilot.app.workers if w.node is palette)

        await eventually(found, what="the search done")
        await pilot.pause(0.3)

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(80, 24), run_before=run_before)
