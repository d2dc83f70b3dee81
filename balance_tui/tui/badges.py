"""The header's badges: the console's states (PAUSED, READ-ONLY, the feed's, the refresh rate) as coloured tags.

A badge is a word and a tone; each tone is a theme colour (`app.tcss`, `.badge.-<tone>`), so a new badge is one
`Badge(...)` in `BalanceApp._show_state` and needs no stylesheet. The word carries the meaning on its own: with
NO_COLOR, or in a theme with little colour, the badges still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label

from balance_tui.core import FeedState
from balance_tui.core.events import Source
from balance_tui.view import FeedView, View

Tone = Literal["success", "warning", "error", "stale", "accent", "secondary", "muted"]

FEED_TONES: dict[FeedState, Tone] = {
    FeedState.LIVE: "success",
    FeedState.STALE: "stale",
    FeedState.FAILED: "error",
    FeedState.STOPPED: "muted",
}


# Figures not from the live feed: said at a glance (the feed's own are not: they are the normal case).
SOURCE_BADGES: dict[Source, tuple[str, Tone]] = {
    Source.REST: ("FROM REST", "secondary"),
    Source.CACHE: ("FROM CACHE", "stale"),
}


@dataclass(frozen=True, slots=True)
class Badge:
    text: str
    tone: Tone


def feed_badge(feed: FeedView) -> Badge:
    """The feed's state in one word; a live feed from an exchange not `online` (maintenance, cancel-only) is
    not all well, and takes the stale tone, as the feed bar does."""
    tone = FEED_TONES.get(feed.state, "warning")
    if feed.state is FeedState.LIVE and feed.system not in ("", "online"):
        tone = "stale"
    return Badge(feed.state.value.upper(), tone)


def view_badges(view: View) -> tuple[Badge, ...]:
    """What one drawn View adds to the header: the feed's state, and where the figures come from instead."""
    source = SOURCE_BADGES.get(view.engine.source) if view.engine.source is not None else None
    return (feed_badge(view.feed),) if source is None else (feed_badge(view.feed), Badge(*source))


class BadgeBar(Horizontal):
    """The app's `badges`, right-aligned in the header of every screen."""

    badges: reactive[tuple[Badge, ...]] = reactive((), recompose=True)

    def on_mount(self) -> None:
        self.watch(self.app, "badges", self._follow)

    def _follow(self, badges: tuple[Badge, ...]) -> None:
        self.badges = badges

    def compose(self) -> ComposeResult:
        for badge in self.badges:
            yield Label(badge.text, classes=f"badge -{badge.tone}", markup=False)
