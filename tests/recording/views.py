"""Hand-built views for the recording tests: every field of every part set to something other than its
default, so a field the codec forgot shows up as a difference."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from types import MappingProxyType

from balance_tui.core import Balance, FeedState
from balance_tui.core.breaker import BreakerState
from balance_tui.core.cache import CacheStats
from balance_tui.core.events import HoldAmounts, Source, WalletBalance
from balance_tui.core.health import BlindChange, FeedEvent, FeedEventKind
from balance_tui.core.history import EntryKind, HistoryEntry, TrendAnalysis, TrendDirection
from balance_tui.core.validator import Rule, Severity, ValidationIssue
from balance_tui.recording.format import encode
from balance_tui.view import AssetHistoryView, EngineView, FeedView, PricesView, SelectionView, StoreView, View

NOW = datetime(2026, 11, 21, 12, 0, 0, 250000, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def history(count: int, start: int = 0) -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry(ago(1000 - i), D("1.5") + D(i) / 1000, D("0.25"), "ws", EntryKind.DEPOSIT, D("0.001"))
        for i in range(start, start + count)
    )


BTC = Balance(
    "BTC",
    D("1.50000000"),
    (WalletBalance("spot", "main", D("1.25")), WalletBalance("earn", "flex", D("0.25000000"))),
    Source.WS,
    ago(3),
    HoldAmounts(hold_trade=D("0.1"), credit=D("5"), credit_used=D("0E-8")),
    Source.REST,
)
USD = Balance("USD", D("1000"), (WalletBalance("spot", "main", D("1000")),), Source.REST, ago(1))
TREND = TrendAnalysis(
    TrendDirection.INCREASING, D("0.93"), D("0.0125"), D("0.0004"), 120, timedelta(minutes=9, microseconds=5)
)


def full_view() -> View:
    """Every field of the view and of its parts set."""
    return View(
        now=NOW,
        balances=MappingProxyType({"BTC": BTC, "USD": USD}),
        values=MappingProxyType({"BTC": D("150000.004"), "USD": None}),
        total=D("151000.004"),
        missing=("USD",),
        prices=PricesView(
            quote="EUR",
            priced=True,
            state=FeedState.LIVE,
            error="slow",
            endpoint="ws://127.0.0.1:9",
            from_rest=True,
            rest_error="HTTP 503",
        ),
        feed=FeedView(
            state=FeedState.STALE,
            state_since=ago(20),
            system="online",
            error="no heartbeat for 5 s",
            retry_at=ago(-2),
            connected_at=ago(600),
            last_message_at=ago(1),
            messages=1234,
            rate_1s=3,
            rate_1m=2.5,
            ping_rtt=0.0125,
            sequence=42,
            reconnects=2,
            reconnect_reason="gap",
            gaps=1,
            token_at=ago(700),
            channels=("balances", "executions"),
            budget_left=4.5,
            budget_capacity=5,
            holds_source=Source.WS,
            holds_at=ago(2),
            blind_changes=(BlindChange("EUR", D("10"), D("260"), ago(30)), BlindChange("DOT", None, D("3"), ago(30))),
            events=(
                FeedEvent(ago(30), FeedEventKind.RESYNCED, "2 changed"),
                FeedEvent(ago(31), FeedEventKind.GAP, "41 -> 43"),
            ),
        ),
        engine=EngineView(
            source=Source.CACHE,
            cache=CacheStats(size=2, max_entries=100, hits=50, misses=3, evictions=1, expirations=4, oldest_age=1.5),
            breaker=BreakerState.HALF_OPEN,
            breaker_retry_in=12.5,
            rate_counter=3.25,
            rate_limit=20.0,
            rest_calls=17,
            fallbacks=2,
            last_rest_at=ago(9),
        ),
        store=StoreView(read_only=True, session_id=7, history_lost=3, session_lost=True),
        issues=(
            ValidationIssue(Rule.NEGATIVE_BALANCE, Severity.CRITICAL, "BTC", "BTC below 0", ago(60), ago(1), 3),
            ValidationIssue(Rule.ALL_ZERO_BALANCES, Severity.WARNING, None, "all zero", ago(5), ago(5)),
        ),
        selection=SelectionView(asset="BTC", balance=BTC, history=history(3), trend=TREND),
        history=MappingProxyType(
            {
                "BTC": AssetHistoryView("BTC", 9, history(120), TREND, 1234.5),
                "USD": AssetHistoryView("USD", 2, history(2), None, 99.0),
            }
        ),
    )


def unset_fields(value: object, default: object) -> list[str]:
    """The fields of a dataclass left at their default (`View`'s parts looked into one level down)."""
    return [f.name for f in fields(value) if getattr(value, f.name) == getattr(default, f.name)]  # type: ignore[arg-type]


def timeless(view: View) -> dict[str, object]:
    """A view's encoded form but for `now`: what a replay between two frames shares with the first."""
    return encode(view) | {"now": None}
