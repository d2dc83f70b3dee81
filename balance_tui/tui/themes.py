"""Themes are data: `themes/*.toml` become Textual themes, every colour checked before use."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from importlib.resources.abc import Traversable

from textual.color import Color, ColorParseError
from textual.theme import Theme

from balance_tui.ui_names import THEME_DIR

COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
# The console's own colours, for themes (like Textual's built-ins) that do not define them; `variable_defaults`
# adds the pane border, which follows the theme.
VARIABLE_DEFAULTS = {
    "balance-up": "ansi_bright_green",
    "balance-down": "ansi_bright_red",
    "balance-stale": "ansi_yellow",
}


def variable_defaults(theme: Theme) -> dict[str, str]:
    """The console's own colours for `theme` where it does not set them. A pane's border is the panel colour
    moved away from the background, lighter on a dark theme and darker on a light one: lightened on a light
    theme it is white on white."""
    shade = "panel-lighten-2" if theme.dark else "panel-darken-3"
    return VARIABLE_DEFAULTS | {"pane-border": theme.to_color_system().generate()[shade]}


class ThemeError(Exception):
    """A theme file that cannot be used; the message names the file and the field."""


def load_theme(source: Traversable) -> Theme:
    try:
        data = tomllib.loads(source.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{source.name}: not valid TOML: {exc}") from None
    allowed = {f.name for f in fields(Theme)}
    if unknown := sorted(data.keys() - allowed):
        raise ThemeError(f"{source.name}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ThemeError(f"{source.name}: 'name' and 'primary' are required strings")
    variables = data.get("variables", {})
    colours = {key: data[key] for key in COLOR_FIELDS if key in data} | {
        f"variables.{key}": value for key, value in variables.items()
    }
    for key, value in colours.items():
        try:
            Color.parse(value)
        except (ColorParseError, TypeError):
            raise ThemeError(f"{source.name}: {key} = {value!r} is not a colour (try #rrggbb)") from None
    return Theme(**data)


def bundled_themes() -> list[Theme]:
    return [
        load_theme(path) for path in sorted(THEME_DIR.iterdir(), key=lambda p: p.name) if path.name.endswith(".toml")
    ]
