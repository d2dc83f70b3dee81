"""Whether the numbers can be trusted: where they come from now, the cache, and the REST safeguards."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

from balance_tui.core import BalanceManager
from balance_tui.tui.formatting import age


class EnginePanel(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "engine"

    def show(self, manager: BalanceManager, now: datetime) -> None:
        status, stats = manager.get_status(), manager.get_statistics()
        cache = status.cache
        lines = [
            f"source   {status.source or '-'}",
            f"cache    {cache.size}/{cache.max_entries}  hits {cache.hits}/{cache.hits + cache.misses}"
            f"  expired {cache.expirations}",
            f"REST     {status.breaker or '-'}"
            + (f" (retry {status.breaker_retry_in:.0f}s)" if status.breaker_retry_in else "")
            + (f"  budget {status.rate_counter:.1f}/{status.rate_limit:g}" if status.rate_limit else ""),
            f"         {stats.rest_calls} calls  {stats.fallbacks} fallbacks"
            + ("" if status.last_rest_at is None else f"  last {age(now - status.last_rest_at)} ago"),
        ]
        text = "\n".join(lines)
        if str(self.content) != text:
            self.update(text)
