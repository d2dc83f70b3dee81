"""The command palette (ctrl+p): every screen and action of the console, each only where its key would work.

The commands are read from the keys active on the screen the palette opens over, so the rule is the keys'
own (`check_action`, `availability`): a key shown disabled, or not bound there, has no command. Each help
line names the key, as the operator may remap it (`[keymap]`). A few commands are the variants a key steps
through (each refresh rate, each sort column) and an asset's screen by name, offered where that key is,
and found by typing (not listed before: they would crowd out the rest); theme and screenshot have no key.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import ActiveBinding
from textual.dom import DOMNode
from textual.markup import escape
from textual.screen import Screen
from textual.types import IgnoreReturnCallbackType

from balance_tui.tui.balances_table import COLUMNS, BalancesTable
from balance_tui.tui.layout import PANES

if TYPE_CHECKING:
    from balance_tui.tui.app import BalanceApp

REFRESH_RATES = (2, 4, 6, 8, 10)  # what `r` cycles through, within [ui] refresh_hz's bounds

# Binding id -> the command's title and what it does (its help line adds the key).
COMMANDS: dict[str, tuple[str, str]] = {
    "app.quit": ("Quit", "stop the feed, end this console's trading session (if it has one) and leave"),
    "app.help": ("Keys", "show or hide every key of this screen, with what it does"),
    "app.books": ("Books", "the bot's tracked balances, adjustments and positions"),
    "app.adjust": ("Adjust a balance", "change the bot's tracked balance, with a reason"),
    "app.sessions": ("Trading sessions", "past sessions: how each ended, opening and closing balances"),
    "app.ledger": ("Ledger", "every deposit, withdrawal and trade of the session, filtered by asset and type"),
    "app.pause": ("Pause or resume", "freeze the picture to read it; the feed and the books carry on"),
    "app.refresh_rate": ("Refresh rate: the next one", f"{' -> '.join(map(str, REFRESH_RATES))} Hz and round again"),
    **{
        f"pane.{pane}": (f"{pane.title()} pane: show or hide", "the layout is remembered for the next run")
        for pane in PANES
    },
    "pane.zoom": ("Zoom", "the focused pane over the whole screen, or back"),
    "issues.focus": ("Issues", "the validation pane over the whole screen, the selected issue's detail shown"),
    "issues.ack": ("Acknowledge the selected issue", "with a note: it leaves the table until it fires anew"),
    "balances.sort": ("Sort by the next column", "a click on a column's header sorts by it"),
    "balances.reverse": ("Reverse the sort", "the same column the other way round"),
    "balances.filter": ("Filter the balances", "only the assets whose name holds what you type"),
    "balances.clear_filter": ("Clear the filter", "every asset again"),
    "balances.dust": ("Dust: show or hide", "the balances worth less than [ui] dust_below"),
    "books.undo": ("Undo the selected adjustment", "a reversing entry, with a reason"),
    "books.back": ("Back", "to the main screen"),
    "sessions.back": ("Back", "to the main screen"),
    "ledger.back": ("Back", "to the main screen"),
    "ledger.filter": ("Filter the ledger", "by asset and type"),
    "ledger.clear": ("Clear the filter", "every entry again"),
    "asset.back": ("Back", "to the main screen"),
    "asset.range_1h": ("Range: the last hour", "the chart and the ledger over the last hour"),
    "asset.range_24h": ("Range: the last day", "the chart and the ledger over the last 24 hours"),
    "asset.range_7d": ("Range: the last week", "the chart and the ledger over the last 7 days"),
    "replay.play": ("Play or pause the recording", "at the speed shown in the time bar"),
    "replay.back": ("Previous frame", "the recording one recorded change back"),
    "replay.forward": ("Next frame", "the recording one recorded change on"),
    "replay.minute_back": ("A minute back", "the recording as it stood a minute earlier"),
    "replay.minute_forward": ("A minute on", "the recording as it stood a minute later"),
    "replay.go": ("Go to a time", "HH:MM, HH:MM:SS, an ISO time, or +5m / -1h from here"),
    "replay.faster": ("Faster", "1x, 2x, 5x, 10x, 30x, 60x"),
    "replay.slower": ("Slower", "60x, 30x, 10x, 5x, 2x, 1x"),
    "replay.start": ("Start of the recording", "its first frame"),
    "replay.end": ("End of the recording", "its last frame"),
}

# The binding ids with no command of their own: the forms' keys (their buttons name them), a second key for
# quitting (named in Quit's help), and enter on an asset (each asset is a command by name).
NO_COMMAND = frozenset(
    {"adjust.save", "adjust.cancel", "adjust.reload", "note.confirm", "note.cancel", "app.interrupt", "app.asset",
     "replay.jump_cancel"}
)  # fmt: skip


def palette_commands(app: BalanceApp, screen: Screen[object]) -> Iterator[SystemCommand]:
    """The commands for `screen`, in no particular order (the palette sorts them)."""
    keys = _working_keys(app, screen)
    for binding_id, (active, shown) in keys.items():
        title, what = COMMANDS[binding_id]
        yield _command(title, f"{what} (key {shown})", partial(app.run_action, active.binding.action, active.node))
    if "app.refresh_rate" in keys:
        shown = keys["app.refresh_rate"][1]
        for hz in REFRESH_RATES:
            if hz != app.refresh_hz:
                yield _command(
                    f"Refresh rate {hz} Hz", f"repaint {hz} times a second (key {shown}: the next rate)",
                    partial(app.set_refresh_hz, hz), discover=False,
                )  # fmt: skip
    if "balances.sort" in keys:
        table = screen.query_one(BalancesTable)
        shown = keys["balances.sort"][1]
        for column, label, *_ in COLUMNS:
            again = ", the other way round" if column == table.sort_order.column else ""
            help = f"a click on its header does it too (key {shown}: the next column)"
            yield _command(f"Sort by {label}{again}", help, partial(table.sort_by, column), discover=False)
    if app.backend is not None:
        for asset in sorted(app.backend.manager.shown_balances()):
            help = "its balance over 1 h, 24 h or 7 d, trend, wallets, open orders and ledger (key enter on its row)"
            yield _command(f"Asset {asset}", help, partial(app.open_asset, asset), discover=False)
    theme = "the console's colours, until it quits ([ui] theme in the config sets them for good; no key)"
    yield _command("Theme", theme, app.action_change_theme)
    yield _command(
        "Screenshot", "an SVG of this screen, in the data directory (no key)",
        lambda: app.set_timer(0.1, app.deliver_screenshot),
    )  # fmt: skip


def _command(title: str, help: str, callback: IgnoreReturnCallbackType, *, discover: bool = True) -> SystemCommand:
    """The palette reads a help line as markup: `[ui]` would vanish, so it is escaped."""
    return SystemCommand(title, escape(help), callback, discover)


def _working_keys(app: BalanceApp, screen: Screen[object]) -> dict[str, tuple[ActiveBinding, str]]:
    """The bindings with a command whose key works on `screen` now, by id, with every key that does the same
    there as shown (`q or ^c`, `escape or b`)."""
    same: dict[tuple[DOMNode, str], list[ActiveBinding]] = {}
    for active in screen.active_bindings.values():
        if active.enabled:
            same.setdefault((active.node, active.binding.action), []).append(active)
    working: dict[str, tuple[ActiveBinding, str]] = {}
    for bindings in same.values():
        bindings.sort(key=lambda a: a.binding.id not in COMMANDS)  # its own key first, then the others
        if (binding_id := bindings[0].binding.id) in COMMANDS:
            working[binding_id] = (bindings[0], " or ".join(app.get_key_display(a.binding) for a in bindings))
    return working
