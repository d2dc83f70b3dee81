"""What a config file may name in the UI, known without importing Textual: binding ids and theme names.

`load_config` checks `[keymap]` and `[ui] theme` against these, so every command (not only the TUI) refuses
a bad one and names the file. The binding ids are read from the TUI's source (its `Binding(..., id=...)`
calls, with `ast`), only when a config has a `[keymap]`; the themes Textual brings are listed here, and
tests/tui check them against the pinned Textual.
"""

from __future__ import annotations

import ast
import tomllib
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

THEME_DIR = files("balance_tui") / "themes"
TUI_DIR = files("balance_tui") / "tui"


@cache
def binding_ids() -> frozenset[str]:
    """Every Binding id in balance_tui/tui, for `[keymap]`: read from the TUI's source, not imported."""
    return read_binding_ids(TUI_DIR)


def read_binding_ids(directory: Traversable) -> frozenset[str]:
    """The `id=` of each `Binding(...)` call in the modules of `directory`. An id must be a string literal,
    so that it can be read here; any other is refused, naming where it is."""
    ids = set()
    for path in directory.iterdir():
        if not path.name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), path.name)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Binding":
                for keyword in node.keywords:
                    if keyword.arg != "id":
                        continue
                    if not (isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)):
                        raise ValueError(
                            f"{path.name} line {keyword.value.lineno}: a Binding id must be a string literal,"
                            " so that [keymap] can be checked without importing the TUI"
                        )
                    ids.add(keyword.value.value)
    return frozenset(ids)


# textual.theme.BUILTIN_THEMES of the Textual version pyproject.toml pins.
TEXTUAL_THEMES = frozenset(
    {
        "ansi-dark",
        "ansi-light",
        "atom-one-dark",
        "atom-one-light",
        "catppuccin-frappe",
        "catppuccin-latte",
        "catppuccin-macchiato",
        "catppuccin-mocha",
        "dracula",
        "flexoki",
        "gruvbox",
        "monokai",
        "nord",
        "rose-pine",
        "rose-pine-dawn",
        "rose-pine-moon",
        "solarized-dark",
        "solarized-light",
        "textual-dark",
        "textual-light",
        "tokyo-night",
    }
)


def bundled_theme_names() -> set[str]:
    """The `name` of each `themes/*.toml` (the TUI checks the rest of each file when it loads it)."""
    names = set()
    for path in THEME_DIR.iterdir():
        if path.name.endswith(".toml"):
            try:
                name = tomllib.loads(path.read_text()).get("name")
            except tomllib.TOMLDecodeError:
                continue  # the TUI refuses the file itself, naming it
            if isinstance(name, str):
                names.add(name)
    return names


def theme_names() -> set[str]:
    return bundled_theme_names() | TEXTUAL_THEMES
