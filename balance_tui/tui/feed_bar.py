"""One line that says whether the numbers can be trusted: feed state, last message age, sequence."""

from __future__ import annotations

from datetime import datetime, timedelta

from textual.widgets import Static

from balance_tui.core import BalanceManager, FeedState
from balance_tui.tui.formatting import age

STATE_CLASSES = {
    FeedState.LIVE: "-live",
    FeedState.STALE: "-stale",
    FeedState.FAILED: "-failed",
}


class FeedBar(Static):
    def __init__(self, **kwargs: object) -> None:
        # Error texts come from sockets and servers ("[Errno 111] ..."): never read them as markup.
        super().__init__("● starting", markup=False, **kwargs)  # type: ignore[arg-type]

    def show(self, manager: BalanceManager, now: datetime, stale_after: timedelta) -> None:
        """The reason first when the feed is not live, so a narrow terminal cuts the details, not the cause."""
        health = manager.health
        state = health.observed_state(now, stale_after)
        parts = [f"● {state.value.upper()}"]
        if health.error and state is not FeedState.LIVE:
            parts.append(health.error)
        if health.retry_at is not None:
            parts.append(f"retry in {age(health.retry_at - now)}")
        parts += [
            f"system {health.system or '-'}",
            f"last msg {age(health.message_age(now))} ago",
            f"seq {'-' if health.sequence is None else health.sequence}",
            f"reconnects {health.reconnects}",
            f"gaps {health.gaps}",
            _holds(manager, now),
        ]
        state_class = STATE_CLASSES.get(state, "-waiting")
        if state is FeedState.LIVE and health.system not in ("", "online"):
            state_class = "-stale"  # live data from an exchange in maintenance or cancel-only: not all is well
        self.set_text("  ".join(parts), state_class)

    def show_problem(self, message: str) -> None:
        self.set_text(f"● {message}", "-failed")

    def set_text(self, text: str, state_class: str) -> None:
        if str(self.content) != text:
            self.update(text)
        for cls in (*STATE_CLASSES.values(), "-waiting"):
            self.set_class(cls == state_class, cls)


def _holds(manager: BalanceManager, now: datetime) -> str:
    if manager.holds_source is None or manager.holds_at is None:
        return "holds -"
    return f"holds {manager.holds_source.value} {age(now - manager.holds_at)} ago"
