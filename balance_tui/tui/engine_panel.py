"""Whether the numbers can be trusted: where they come from now, the cache, the REST safeguards, the store."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

from balance_tui.backend import Backend
from balance_tui.core.breaker import BreakerState
from balance_tui.tui.formatting import age

# The circuit breaker's states in an operator's words: "closed" reads as "not working" to most people.
BREAKER_WORDS = {
    BreakerState.CLOSED: "ok",
    BreakerState.OPEN: "paused after failures",
    BreakerState.HALF_OPEN: "trying again",
}


class EnginePanel(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "engine"

    def show(self, backend: Backend, now: datetime) -> None:
        manager = backend.manager
        status, stats = manager.get_status(), manager.get_statistics()
        cache = status.cache
        lines = [
            f"source   {status.source or '-'}",
            f"cache    {cache.size}/{cache.max_entries}  hits {cache.hits}/{cache.hits + cache.misses}"
            f"  expired {cache.expirations}",
            f"REST     {'-' if status.breaker is None else BREAKER_WORDS[status.breaker]}"
            + (f" (retry {status.breaker_retry_in:.0f}s)" if status.breaker_retry_in else "")
            + (f"  budget {status.rate_counter:.1f}/{status.rate_limit:g}" if status.rate_limit else ""),
            f"         {stats.rest_calls} calls  {stats.fallbacks} fallbacks"
            + ("" if status.last_rest_at is None else f"  last {age(now - status.last_rest_at)} ago"),
            _store_line(backend),
        ]
        text = "\n".join(lines)
        if str(self.content) != text:
            self.update(text)


def _store_line(backend: Backend) -> str:
    if backend.read_only:
        return "store    read-only: nothing is written"
    session = "no session" if backend.session is None else f"session #{backend.session.id}"
    lost = 0 if backend.history_writer is None else backend.history_writer.lost
    return f"store    {session}" + (f"  {lost} history rows lost" if lost else "  history saved")
