"""The balances feed in full: state and since when, the connection, rates, ping, sequence, reconnects and
their budget, token, channels, Kraken's status, then the latest feed events, newest first, as many as fit."""

from __future__ import annotations

import textwrap
from datetime import datetime

from textual import events
from textual.content import Content

from balance_tui.core import FeedState
from balance_tui.core.health import FeedEvent, FeedEventKind
from balance_tui.tui.formatting import age
from balance_tui.tui.line_static import LineStatic
from balance_tui.view import FeedView

LABEL = 11  # the width of the figures' labels ("reconnects ")
REASON_LINES = 3  # a long reason wraps onto this many lines at most: the cause of an outage is never cut off
STATE_STYLES = {
    FeedState.LIVE: "$success",
    FeedState.STALE: "$balance-stale",
    FeedState.FAILED: "$error",
}
KIND_STYLES = {
    FeedEventKind.CONNECTED: "$success",
    FeedEventKind.SNAPSHOT: "$success",
    FeedEventKind.GAP: "$warning",
    FeedEventKind.STALE: "$warning",
    FeedEventKind.RESYNC: "$warning",
    FeedEventKind.CLOSED: "$warning",
    FeedEventKind.REFUSED: "$warning",
    FeedEventKind.NO_TOKEN: "$warning",
    FeedEventKind.FAILED: "$error",
}


class FeedPanel(LineStatic):
    can_focus = True  # tab reaches it, and `z` zooms it

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.border_title = "feed"
        self._last: tuple[FeedView, datetime] | None = None
        self._shown: tuple[str, ...] = ()  # the plain lines drawn last: nothing is redrawn while they stand

    def show(self, feed: FeedView, now: datetime) -> None:
        """Draw `feed` as of `now`: the figures, then as many events as the panel's height leaves room for."""
        self._last = feed, now
        figures = figure_lines(feed, now, self.content_size.width)
        room = max(0, self.content_size.height - len(figures) - 1)
        events_shown = feed.events[:room]
        plain = (*figures, *(event_line(e) for e in events_shown))
        if plain == self._shown:
            return
        self._shown = plain
        lines = [_styled_state(feed, figures[0]), *(Content(line) for line in figures[1:])]
        if room:
            lines.append(Content.from_markup("[$text-muted]events, newest first (UTC)[/]"))
        lines += [_styled_event(event) for event in events_shown]
        self.show_lines(lines)
        for state in STATE_STYLES:
            self.set_class(state is feed.state, f"-{state.value}")

    def on_resize(self, event: events.Resize) -> None:
        """More or fewer rows: the same view again, with as many events as now fit."""
        if self._last is not None:
            self.show(*self._last)


def figure_lines(feed: FeedView, now: datetime, width: int = 0) -> list[str]:
    """The figures, each behind its label; the state comes first, then the countdown while a reconnect
    waits and the reason when it is not live (wrapped to `width`, when known, rather than cut)."""
    state = feed.state.value.upper()
    if feed.state_since is not None:
        state += f" since {feed.state_since:%H:%M:%S} ({age(now - feed.state_since)})"
    lines = [_row("state", state)]
    if feed.retry_at is not None:
        lines.append(_row("retry", f"in {age(feed.retry_at - now)}"))
    reason = feed.error if feed.state is not FeedState.LIVE else ""
    if reason:
        lines += _wrapped("reason", reason, width)
    uptime = "down" if feed.connected_at is None else f"up {age(now - feed.connected_at)}"
    heard = "-" if feed.last_message_at is None else f"{age(now - feed.last_message_at)} ago"
    lines += [
        _row("connection", f"{uptime}  last msg {heard}  ping {_milliseconds(feed.ping_rtt)}"),
        _row("messages", f"{feed.rate_1s}/s  {_rate(feed.rate_1m)}/s over 1m  {feed.messages} in all"),
        _row("sequence", f"{'-' if feed.sequence is None else feed.sequence}  gaps {feed.gaps}"),
        _row("reconnects", f"{feed.reconnects}  budget {_budget(feed)}"),
    ]
    if feed.reconnect_reason and feed.reconnect_reason != reason:
        lines += _wrapped("last cause", feed.reconnect_reason, width)
    lines += [
        _row("token", "-" if feed.token_at is None else f"{age(now - feed.token_at)} old"),
        _row("channels", ", ".join(feed.channels) or "-"),
        _row("system", feed.system or "-"),
    ]
    return lines


def event_line(event: FeedEvent) -> str:
    return f"{event.at:%H:%M:%S} {event.kind:<10} {event.text}"


def _row(label: str, text: str) -> str:
    return f"{label:<{LABEL}}{text}"


def _wrapped(label: str, text: str, width: int) -> list[str]:
    """`text` behind `label`, continued under it on up to REASON_LINES lines when wider than `width`."""
    if width <= LABEL or len(text) <= width - LABEL:
        return [_row(label, text)]
    parts = textwrap.wrap(text, width - LABEL, max_lines=REASON_LINES, placeholder="…")
    return [_row(label if i == 0 else "", part) for i, part in enumerate(parts)]


def _milliseconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _rate(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate:.1f}" if rate < 100 else f"{rate:.0f}"


def _budget(feed: FeedView) -> str:
    if feed.budget_left is None:
        return "-"
    return f"{int(feed.budget_left)}/{feed.budget_capacity} left"


def _styled_state(feed: FeedView, line: str) -> Content:
    """The state line with the state's word in its colour ($-variables are substituted as plain text)."""
    label, state = line[:LABEL], feed.state.value.upper()
    rest = line[LABEL + len(state) :]
    style = STATE_STYLES.get(feed.state, "$text-warning")
    return Content.from_markup(f"$label[bold {style}]$state[/]$rest", label=label, state=state, rest=rest)


def _styled_event(event: FeedEvent) -> Content:
    style = KIND_STYLES.get(event.kind, "$text-muted")
    return Content.from_markup(
        f"[$text-muted]$at[/] [{style}]$kind[/] $text",
        at=f"{event.at:%H:%M:%S}",
        kind=f"{event.kind:<10}",
        text=event.text,
    )
