"""Whether the numbers can be trusted: where they come from now, the cache, the REST safeguards (breaker and
rate budget), the store."""

from __future__ import annotations

from datetime import timedelta

from balance_tui.core.breaker import BreakerState
from balance_tui.tui.formatting import age
from balance_tui.tui.line_static import LineStatic
from balance_tui.view import StoreView, View

# The circuit breaker's states in an operator's words: "closed" reads as "not working" to most people.
BREAKER_WORDS = {
    BreakerState.CLOSED: "ok",
    BreakerState.OPEN: "paused after failures",
    BreakerState.HALF_OPEN: "trying again",
}


BAR_CELLS = 10


class EnginePanel(LineStatic):
    """Where the figures come from in the title, the store in the subtitle, and five lines between: the cache
    (size, hit ratio, oldest entry, expirations, evictions) and REST (the breaker in words with its countdown,
    the rate budget as a bar, calls, fallbacks and the last call)."""

    can_focus = True  # tab reaches it, and `z` zooms it

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "engine"
        self._borders: tuple[str, str] | None = None

    def show(self, view: View) -> None:
        engine = view.engine
        cache = engine.cache
        lookups = cache.hits + cache.misses
        oldest = None if cache.oldest_age is None else timedelta(seconds=cache.oldest_age)
        borders = (
            (f"engine: figures from {engine.source}" if engine.source else "engine: no figures yet"),
            _store_line(view.store),
        )
        if borders != self._borders:  # setting either repaints the whole pane, even to the same text
            self._borders = borders
            self.border_title, self.border_subtitle = borders
        lines = [
            f"cache    {cache.size}/{cache.max_entries}  hits {f'{cache.hit_rate:.0%}' if lookups else '-'}"
            f"  oldest {age(oldest)}",
            f"         expired {cache.expirations}  evicted {cache.evictions}",
            f"REST     {'-' if engine.breaker is None else BREAKER_WORDS[engine.breaker]}"
            + (f" (retry {engine.breaker_retry_in:.0f}s)" if engine.breaker_retry_in else ""),
            f"budget   {_budget(engine.rate_counter, engine.rate_limit)}",
            f"calls    {engine.rest_calls}  fallbacks {engine.fallbacks}"
            + ("" if engine.last_rest_at is None else f"  last {age(view.now - engine.last_rest_at)} ago"),
        ]
        self.show_lines(lines)


def _budget(counter: float | None, limit: float | None) -> str:
    """The REST rate counter against our limit as a bar of BAR_CELLS cells, then the figures."""
    if counter is None or not limit:
        return "-"
    filled = round(min(max(counter / limit, 0.0), 1.0) * BAR_CELLS)
    return f"{'█' * filled}{'░' * (BAR_CELLS - filled)} {counter:.1f}/{limit:g} used"


def _store_line(store: StoreView) -> str:
    if store.read_only:
        return "store read-only: nothing is written"
    session = "no session" if store.session_id is None else f"session #{store.session_id}"
    lost = store.history_lost
    return f"{session} · " + (f"{lost} history rows lost" if lost else "history saved")
