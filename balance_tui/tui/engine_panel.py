"""Whether the numbers can be trusted: where they come from now, the cache, the REST safeguards, the store."""

from __future__ import annotations

from textual.widgets import Static

from balance_tui.core.breaker import BreakerState
from balance_tui.tui.formatting import age
from balance_tui.tui.view import StoreView, View

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

    def show(self, view: View) -> None:
        engine = view.engine
        cache = engine.cache
        lines = [
            f"source   {engine.source or '-'}",
            f"cache    {cache.size}/{cache.max_entries}  hits {cache.hits}/{cache.hits + cache.misses}"
            f"  expired {cache.expirations}",
            f"REST     {'-' if engine.breaker is None else BREAKER_WORDS[engine.breaker]}"
            + (f" (retry {engine.breaker_retry_in:.0f}s)" if engine.breaker_retry_in else "")
            + (f"  budget {engine.rate_counter:.1f}/{engine.rate_limit:g}" if engine.rate_limit else ""),
            f"         {engine.rest_calls} calls  {engine.fallbacks} fallbacks"
            + ("" if engine.last_rest_at is None else f"  last {age(view.now - engine.last_rest_at)} ago"),
            _store_line(view.store),
        ]
        text = "\n".join(lines)
        if str(self.content) != text:
            self.update(text)


def _store_line(store: StoreView) -> str:
    if store.read_only:
        return "store    read-only: nothing is written"
    session = "no session" if store.session_id is None else f"session #{store.session_id}"
    lost = store.history_lost
    return f"store    {session}" + (f"  {lost} history rows lost" if lost else "  history saved")
