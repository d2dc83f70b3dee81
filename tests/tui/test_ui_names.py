"""The registry config checks `[keymap]` and `[ui] theme` against is the TUI's own ids and themes, exactly."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.theme import BUILTIN_THEMES

import balance_tui.tui
from balance_tui import ui_names
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.layout import PANES
from balance_tui.tui.main_screen import MainScreen
from balance_tui.tui.themes import bundled_themes


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


def test_the_readme_keys_table_names_every_binding_id_and_no_other() -> None:
    """The README's table of keys, last column: what `[keymap]` can remap, exactly."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("## Keys")
    rows = [row for row in readme[start : readme.index("\n## ", start)].splitlines() if row.startswith("| `")]
    named = {name for row in rows for name in re.findall(r"`([a-z_]+\.[a-z0-9_]+)`", row.rsplit("|", 2)[-2])}
    assert named == ui_names.binding_ids()
