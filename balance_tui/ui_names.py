"""What a config file may name in the UI, known without importing Textual: binding ids and theme names.

`load_config` checks `[keymap]` and `[ui] theme` against these, so every command (not only the TUI) refuses
a bad one and names the file. The TUI declares the same ids and registers the same themes; tests/tui check
both lists against what the TUI and the pinned Textual actually have.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files

THEME_DIR = files("balance_tui") / "themes"

# Every Binding id in balance_tui/tui, for `[keymap]`.
BINDING_IDS = frozenset(
    {
        "app.quit",
        "app.interrupt",
        "app.books",
        "app.adjust",
        "app.help",
        "pane.balances",
        "pane.asset",
        "pane.engine",
        "pane.issues",
        "pane.feed",
        "pane.history",
        "pane.zoom",
        "app.pause",
        "app.refresh_rate",
        "app.sessions",
        "balances.sort",
        "balances.reverse",
        "balances.filter",
        "balances.clear_filter",
        "balances.dust",
        "sessions.back",
        "adjust.cancel",
        "adjust.save",
        "adjust.reload",
        "books.back",
        "books.undo",
        "undo.cancel",
        "undo.confirm",
        "app.ledger",
        "ledger.back",
        "ledger.filter",
        "ledger.clear",
        "app.asset",
        "asset.back",
        "asset.range_1h",
        "asset.range_24h",
        "asset.range_7d",
        "issues.focus",
        "issues.ack",
        "ack.cancel",
        "ack.save",
        "replay.play",
        "replay.back",
        "replay.forward",
        "replay.minute_back",
        "replay.minute_forward",
        "replay.go",
        "replay.faster",
        "replay.slower",
        "replay.start",
        "replay.end",
        "replay.jump_cancel",
    }
)

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
