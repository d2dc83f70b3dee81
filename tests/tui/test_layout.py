"""Panes hidden and shown by number keys, remembered between runs; `z` zooms the focused pane."""

from __future__ import annotations

from pathlib import Path

import pytest

from balance_tui.tui.app import BalanceApp
from balance_tui.tui.balances_pane import BalancesPane
from balance_tui.tui.engine_panel import EnginePanel
from balance_tui.tui.feed_panel import FeedPanel
from balance_tui.tui.layout import Layout, LayoutError, layout_path, load_layout, save_layout
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually
from tests.tui.conftest import Notices, settled


async def test_number_keys_hide_and_show_panes_and_the_next_run_remembers(make_config) -> None:
    config = make_config()
    app = BalanceApp(config)
    async with app.run_test(size=(120, 30)) as pilot:
        engine, feed = app.screen.query_one(EnginePanel), app.screen.query_one(FeedPanel)
        assert engine.display and not feed.display  # under 160 columns the feed pane is off by default
        await pilot.press("3", "5")
        await pilot.pause()
        assert not engine.display and feed.display
        await pilot.press("q")
    assert load_layout(layout_path()) == Layout(hidden=frozenset({"engine"}), shown=frozenset({"feed"}))
    again = BalanceApp(config)
    async with again.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert not again.screen.query_one(EnginePanel).display and again.screen.query_one(FeedPanel).display
        await pilot.press("3")
        await pilot.pause()
        assert again.screen.query_one(EnginePanel).display
        await pilot.press("q")


async def test_z_zooms_the_focused_pane_and_esc_brings_it_back(make_config) -> None:
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("z")  # the table has focus: its pane fills the screen
        assert isinstance(app.screen.maximized, BalancesPane)
        await pilot.press("escape")
        assert app.screen.maximized is None
        await pilot.press("tab", "tab", "z")
        assert isinstance(app.screen.maximized, EnginePanel)
        await pilot.press("z")
        assert app.screen.maximized is None
        await pilot.press("q")


async def test_a_broken_layout_file_is_ignored_with_a_notice(make_config) -> None:
    path = layout_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('hidden = ["everything"]\n')
    with pytest.raises(LayoutError, match="hidden must list pane names"):
        load_layout(path)
    notices = Notices()
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30), message_hook=notices.hook, notifications=True) as pilot:
        await eventually(lambda: notices.titled("Layout"), what="the notice")
        assert app.screen.query_one(EnginePanel).display  # the default layout
        await pilot.press("q")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    layout = Layout(hidden=frozenset({"asset", "issues"}), shown=frozenset({"feed"}))
    save_layout(tmp_path / "layout.toml", layout)
    assert load_layout(tmp_path / "layout.toml") == layout


def test_hidden_panes_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("2", "4")  # not the feed pane: its URL has a new port each run

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(130, 28), run_before=run_before)


def test_zoomed_balances_snapshot(make_config, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("z")

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(110, 24), run_before=run_before)


@pytest.mark.parametrize(
    ("pane", "show"),
    [("balances-pane", ""), ("asset", ""), ("engine", "3"), ("history", "6")],
    ids=["balances", "asset", "engine", "history"],
)
def test_zoomed_pane_at_80_by_24_snapshot(make_config, snap_compare, pane: str, show: str) -> None:
    """Each pane zoomed on a small terminal (the engine and history panes, hidden there, shown first); the
    validation pane's is in test_issues, the feed pane's URL has a new port each run."""

    async def run_before(pilot) -> None:
        await settled(pilot)
        if show:
            await pilot.press(show)
        pilot.app.screen.query_one(f"#{pane}").focus()
        await pilot.press("z")
        await pilot.pause(0.3)

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(80, 24), run_before=run_before)


def test_80_by_24_snapshot(make_config, snap_compare) -> None:
    """A small terminal: the engine pane gives way, the table scrolls sideways, nothing is cut mid-number."""
    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(80, 24), run_before=settled)


def test_200_by_60_snapshot(make_config, snap_compare) -> None:
    """A large terminal: table and panes at 200x60; the feed pane, which joins from 160 columns, is hidden here
    because its URL has a new port each run."""

    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("5")

    assert snap_compare(BalanceApp(make_config(), clock=FrozenClock()), terminal_size=(200, 60), run_before=run_before)
