"""One line that says whether the numbers can be trusted: feed state, last message age, sequence."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

from balance_tui.core import FeedState
from balance_tui.tui.formatting import age
from balance_tui.view import FeedView

STATE_CLASSES = {
    FeedState.LIVE: "-live",
    FeedState.STALE: "-stale",
    FeedState.FAILED: "-failed",
}


class FeedBar(Static):
    def __init__(self, **kwargs: object) -> None:
        # Error texts come from sockets and servers ("[Errno 111] ..."): never read them as markup.
        super().__init__("● starting", markup=False, **kwargs)  # type: ignore[arg-type]

    def show(self, feed: FeedView, now: datetime) -> None:
        """The countdown and the reason first when the feed is not live, so a narrow terminal cuts the details,
        not the cause."""
        state = feed.state
        parts = [f"● {state.value.upper()}"]
        if feed.retry_at is not None:
            parts.append(f"retry in {age(feed.retry_at - now)}")
        if feed.error and state is not FeedState.LIVE:
            parts.append(feed.error)
        parts += [
            f"system {feed.system or '-'}",
            f"last msg {age(None if feed.last_message_at is None else now - feed.last_message_at)} ago",
            f"seq {'-' if feed.sequence is None else feed.sequence}",
            f"reconnects {feed.reconnects}",
            f"gaps {feed.gaps}",
            _holds(feed, now),
        ]
        state_class = STATE_CLASSES.get(state, "-waiting")
        if state is FeedState.LIVE and feed.system not in ("", "online"):
            state_class = "-stale"  # live data from an exchange in maintenance or cancel-only: not all is well
        self.set_text("  ".join(parts), state_class)

    def show_problem(self, message: str) -> None:
        self.set_text(f"● {message}", "-failed")

    def set_text(self, text: str, state_class: str) -> None:
        if str(self.content) != text:
            self.update(text, layout=False)  # one line, whatever it says: no layout of the screen each second
        for cls in (*STATE_CLASSES.values(), "-waiting"):
            self.set_class(cls == state_class, cls)


def _holds(feed: FeedView, now: datetime) -> str:
    if feed.holds_source is None or feed.holds_at is None:
        return "holds -"
    return f"holds {feed.holds_source.value} {age(now - feed.holds_at)} ago"
