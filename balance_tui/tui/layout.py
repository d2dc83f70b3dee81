"""Which panes of the main screen are shown, kept between runs in `layout.toml` beside the config.

A file of its own, written with tomli-w: rewriting the operator's config.toml would drop their comments.
A layout file that cannot be read is ignored with a notice, never fatal: it only says what to show.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import tomli_w

from balance_tui.config import APP_NAME

# Pane name -> widget id, in the order of their number keys (1-6).
PANES = {
    "balances": "balances-pane",
    "asset": "asset",
    "engine": "engine",
    "issues": "issues",
    "feed": "feed-pane",
    "history": "history",
}
DETAILS = ("asset", "engine", "issues")  # the row under the table: hidden when all three are


class LayoutError(Exception):
    """The layout file cannot be used; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class Layout:
    hidden: frozenset[str] = frozenset()
    shown: frozenset[str] = frozenset()  # shown although the terminal's width would leave it out

    def toggled(self, pane: str, visible: bool) -> Layout:
        """The layout after the operator's key for `pane`, which is `visible` now."""
        if visible:
            return Layout(self.hidden | {pane}, self.shown - {pane})
        return Layout(self.hidden - {pane}, self.shown | {pane})


def layout_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "layout.toml"


def load_layout(path: Path) -> Layout:
    """The saved layout; none saved yet is the default one."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Layout()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read the layout ({exc}); using the default one") from None
    sets = {}
    for key in ("hidden", "shown"):
        names = data.get(key, [])
        if not isinstance(names, list) or not all(name in PANES for name in names):
            raise LayoutError(f"{path}: {key} must list pane names ({', '.join(PANES)}); using the default layout")
        sets[key] = frozenset(names)
    return Layout(**sets)


def save_layout(path: Path, layout: Layout) -> None:
    data = {"hidden": sorted(layout.hidden), "shown": sorted(layout.shown)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Written by balance-tui: the panes the number keys hid or showed.\n" + tomli_w.dumps(data))
    except OSError as exc:
        raise LayoutError(f"{path}: cannot save the layout: {exc.strerror}") from None
