"""The registry config checks `[keymap]` and `[ui] theme` against is the TUI's own ids and themes, exactly."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from textual.app import App
from textual.binding import Binding
from textual.keys import Keys, _character_to_key
from textual.theme import BUILTIN_THEMES

import balance_tui.tui
from balance_tui import ui_names
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.balances_table import BalancesTable
from balance_tui.tui.issues_panel import IssuesPanel
from balance_tui.tui.layout import PANES
from balance_tui.tui.main_screen import MainScreen
from balance_tui.tui.themes import bundled_themes
from tests.integration.conftest import eventually


def tui_binding_ids() -> set[str]:
    ids = set()
    for module in pkgutil.iter_modules(balance_tui.tui.__path__):
        loaded = importlib.import_module(f"balance_tui.tui.{module.name}")
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if cls.__module__ == loaded.__name__:
                ids |= {b.id for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and b.id}
    return ids


def test_the_ids_read_from_the_source_are_every_binding_id_the_tui_declares() -> None:
    assert tui_binding_ids() == ui_names.binding_ids()


def test_a_binding_id_that_is_not_a_literal_is_refused_naming_where(tmp_path) -> None:
    (tmp_path / "screen.py").write_text(
        'BINDINGS = [Binding("x", "go", "Go", id="screen.go"), Binding("y", "up", "Up")]\n'
    )
    assert ui_names.read_binding_ids(tmp_path) == {"screen.go"}
    (tmp_path / "panes.py").write_text('BINDINGS = [Binding(k, "go", "Go", id=f"pane.{k}") for k in "12"]\n')
    with pytest.raises(ValueError, match=r"panes\.py line 1: a Binding id must be a string literal"):
        ui_names.read_binding_ids(tmp_path)


def test_the_number_keys_follow_the_panes_order() -> None:
    keys = {b.key: b.action for b in MainScreen.BINDINGS if isinstance(b, Binding)}
    assert [keys[str(n)] for n in range(1, len(PANES) + 1)] == [f"toggle_pane('{pane}')" for pane in PANES]


def test_the_registry_holds_every_theme_the_app_offers(make_config) -> None:
    assert set(BUILTIN_THEMES) == ui_names.TEXTUAL_THEMES  # Textual pinned: a new version may add or drop some
    assert ui_names.bundled_theme_names() == {theme.name for theme in bundled_themes()}
    assert set(BalanceApp(make_config()).available_themes) == ui_names.theme_names()


def test_a_checked_keymap_and_theme_reach_the_app(make_config) -> None:
    app = BalanceApp(make_config(ui={"theme": "nord"}, keymap={"books.back": "escape,backspace"}))
    assert app.theme == "nord"
    assert app._keymap == {"books.back": "escape,backspace"}


def test_the_key_names_config_checks_are_the_pinned_textuals() -> None:
    keys = {key.value.rpartition("+")[2] for key in Keys if not key.value.startswith("<")}
    assert keys >= ui_names.TEXTUAL_KEY_NAMES  # Textual pinned: a new version may add or drop some
    characters = [chr(code) for code in range(32, 127)] + ["\t", "é", "£", "→"]
    assert all(ui_names.character_key(c) == _character_to_key(c) for c in characters)
    legacy = {"@", "ctrl-at"}  # Keys' own spellings of ctrl+at, which is how the key arrives
    assert [key for key in sorted(keys - legacy) if ui_names.key_problem(key)] == []


def test_the_bindings_read_from_the_source_have_the_tuis_keys_and_owners() -> None:
    declared = {(b.id, b.owner): b for b in ui_names.bindings()}
    for module in pkgutil.iter_modules(balance_tui.tui.__path__):
        loaded = importlib.import_module(f"balance_tui.tui.{module.name}")
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            for binding in cls.__dict__.get("BINDINGS", []) if cls.__module__ == loaded.__name__ else []:
                if isinstance(binding, Binding) and binding.id:
                    read = declared[binding.id, cls.__name__]
                    assert (read.keys, read.app_wide) == (tuple(binding.key.split(",")), issubclass(cls, App))


async def test_the_bindings_at_work_together_are_those_the_registry_groups(make_config) -> None:
    declared = ui_names.bindings()
    app = BalanceApp(make_config())
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: app.backend is not None, what="the console")
        grouped = {b.id for b in declared if b.app_wide or "MainScreen" in b.screens}
        for widget, key in ((BalancesTable, "balances.sort"), (IssuesPanel, "issues.ack")):
            app.screen.query_one(widget).focus()
            await pilot.pause()
            at_work = {active.binding.id for active in app.screen.active_bindings.values()} - {None}
            assert key in at_work and at_work <= grouped, at_work - grouped
        await pilot.press("q")


def test_the_readme_keys_table_names_every_binding_id_and_no_other() -> None:
    """The README's table of keys, last column: what `[keymap]` can remap, exactly."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("## Keys")
    rows = [row for row in readme[start : readme.index("\n## ", start)].splitlines() if row.startswith("| `")]
    named = {name for row in rows for name in re.findall(r"`([a-z_]+\.[a-z0-9_]+)`", row.rsplit("|", 2)[-2])}
    assert named == ui_names.binding_ids()
