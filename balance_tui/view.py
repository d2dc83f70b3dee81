"""What the console shows, read from the backend once per tick into one frozen value.

`View.read` is the only place the main screen's widgets get their facts from: they draw a `View` (or the
part they need) and never see the engine. It knows nothing of Textual, so the headless recorder reads the
same value the console draws, and replay draws what the recorder kept. A test can build a `View` by hand,
without the simulator: every field but `now` has a default that reads as "nothing known yet".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING

from balance_tui.core import Balance, FeedState
from balance_tui.core.breaker import BreakerState
from balance_tui.core.cache import CacheStats
from balance_tui.core.events import Source
from balance_tui.core.health import BlindChange, FeedEvent
from balance_tui.core.history import BalanceHistory, HistoryEntry, TrendAnalysis
from balance_tui.core.validator import ValidationIssue

if TYPE_CHECKING:
    from balance_tui.backend import Backend

SPARK_POINTS = 120  # recent changes read for the selected asset's sparkline; the table shows the exact figure
TREND_EVERY_S = 5.0  # the history pane refits a changing asset's trend at most this often: ~19 µs a fit (O(1))
# A trend of fewer samples is refitted at every change: a young fit moves most with each sample. (At 100, 200
# assets at 10 Hz refitted about 2,000 times a second through their first 20 s of updates.)
TREND_CHEAP = 20
NO_CACHE = CacheStats(size=0, max_entries=0, hits=0, misses=0, evictions=0, expirations=0)


@dataclass(frozen=True, slots=True)
class FeedView:
    """The balances feed; `state` is what the data says (LIVE with nothing heard lately is STALE)."""

    state: FeedState = FeedState.CONNECTING
    state_since: datetime | None = None  # when it entered `state` (a silent LIVE feed: when it went STALE)
    system: str = ""  # Kraken's status channel: online, maintenance, cancel_only, post_only
    error: str = ""
    retry_at: datetime | None = None  # the next reconnect attempt, while waiting for it
    connected_at: datetime | None = None  # while a connection is open: its uptime is measured from this
    last_message_at: datetime | None = None
    messages: int = 0
    rate_1s: int = 0  # messages in the last whole second
    rate_1m: float | None = None  # mean messages per second over the last minute; None before a second's worth
    ping_rtt: float | None = None  # seconds, the last application ping's round trip on this connection
    sequence: int | None = None
    reconnects: int = 0
    reconnect_reason: str = ""  # why the last reconnect was needed
    gaps: int = 0
    token_at: datetime | None = None
    channels: tuple[str, ...] = ()  # subscriptions acknowledged on this connection
    budget_left: float | None = None  # reconnect attempts the budget allows at once now
    budget_capacity: int = 0
    holds_source: Source | None = None  # where the held amounts in use come from
    holds_at: datetime | None = None
    blind_changes: tuple[BlindChange, ...] = ()  # from the last resync; a new resync makes a new tuple
    events: tuple[FeedEvent, ...] = ()  # the last feed events, newest first (the same tuple while none is new)

    @staticmethod
    def read(backend: Backend, now: datetime, monotonic: float) -> FeedView:
        """The feed as of `now`: the console's feed panel and the headless commands both read this."""
        manager, budget = backend.manager, backend.stream.budget
        health, stale_after = manager.health, timedelta(seconds=backend.config.feed.stale_after_s)
        state, since = health.observed_state(now, stale_after), health.state_since
        if state is not health.state and health.last_message_at is not None:
            since = health.last_message_at + stale_after  # live on the socket, but silent since then
        return FeedView(
            state=state,
            state_since=since,
            system=health.system,
            error=health.error,
            retry_at=health.retry_at,
            connected_at=health.connected_at,
            last_message_at=health.last_message_at,
            messages=health.messages,
            rate_1s=health.rate.last_second(monotonic),
            rate_1m=health.rate.mean_per_second(monotonic),
            ping_rtt=health.ping_rtt,
            sequence=health.sequence,
            reconnects=health.reconnects,
            reconnect_reason=health.reconnect_reason,
            gaps=health.gaps,
            token_at=health.token_at,
            channels=health.channels,
            budget_left=budget.tokens,
            budget_capacity=budget.capacity,
            holds_source=manager.holds_source,
            holds_at=manager.holds_at,
            blind_changes=health.blind_changes,
            events=health.events.recent(),
        )


@dataclass(frozen=True, slots=True)
class PricesView:
    """The public ticker that values every balance in `quote`."""

    quote: str = "USD"
    priced: bool = False  # at least one price has arrived
    state: FeedState | None = None  # None: not started (it waits for the first snapshot)
    error: str = ""
    endpoint: str = ""
    from_rest: bool = False  # the ticker feed failed for good: prices come from REST Ticker
    rest_error: str = ""  # why the last REST poll failed


@dataclass(frozen=True, slots=True)
class EngineView:
    """Where the figures come from now, the cache and the REST safeguards (breaker, rate budget)."""

    source: Source | None = None  # None: nothing trustworthy yet
    cache: CacheStats = NO_CACHE
    breaker: BreakerState | None = None
    breaker_retry_in: float = 0.0
    rate_counter: float | None = None
    rate_limit: float | None = None
    rest_calls: int = 0
    fallbacks: int = 0
    last_rest_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoreView:
    read_only: bool = False
    session_id: int | None = None  # the trading session this console owns, if any
    history_lost: int = 0  # history rows that never reached the store
    session_lost: bool = False  # another console took the session over


@dataclass(frozen=True, slots=True)
class SelectionView:
    """The asset under the table's cursor: its recent history, trend and wallets."""

    asset: str | None = None
    balance: Balance | None = None
    history: tuple[HistoryEntry, ...] = ()  # the latest SPARK_POINTS, oldest first
    trend: TrendAnalysis | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """Changes whenever anything drawn from this does (history entries are immutable)."""
        last = self.history[-1] if self.history else None
        return (self.asset, last, len(self.history), self.balance, self.trend)

    @staticmethod
    def of(rows: Mapping[str, AssetHistoryView], asset: str | None, balances: Mapping[str, Balance]) -> SelectionView:
        """From the asset's row of the history pane: the panel and the pane show the same entries and fit,
        and a recording (which holds the pane) gives back the panel the live console drew."""
        if asset is None:
            return SelectionView()
        row = rows.get(asset)
        if row is None:
            return SelectionView(asset, balances.get(asset))
        return SelectionView(asset, balances.get(asset), row.history, row.trend)


@dataclass(frozen=True, slots=True)
class AssetHistoryView:
    """One asset's row in the history pane: its recent changes and its trend.

    `revision` is the engine's (BalanceHistory.revision): while it stands still this object is carried over
    from the previous view unchanged, so the pane redraws a row only when `is not` its last one.
    """

    asset: str
    revision: int = 0
    history: tuple[HistoryEntry, ...] = ()  # the latest SPARK_POINTS, oldest first
    trend: TrendAnalysis | None = None
    fitted_at: float = 0.0  # monotonic time of the fit in `trend`

    @staticmethod
    def read(
        history: BalanceHistory, assets: Iterable[str], monotonic: float, previous: Mapping[str, AssetHistoryView]
    ) -> Mapping[str, AssetHistoryView]:
        """Every asset's row; O(1) per asset whose history stood still. A changed one reads its last
        SPARK_POINTS again, and its fit once TREND_EVERY_S have passed since the last (at once while there
        is none or it had fewer than TREND_CHEAP samples).
        `previous` itself comes back when no row changed."""
        rows: dict[str, AssetHistoryView] = {}
        changed = False
        for asset in assets:
            revision, last = history.revision(asset), previous.get(asset)
            if last is not None and last.revision == revision:
                rows[asset] = last
                continue
            changed = True
            entries = history.get_asset_history(asset, SPARK_POINTS)
            if (
                last is not None
                and last.trend is not None
                and last.trend.samples >= TREND_CHEAP
                and monotonic - last.fitted_at < TREND_EVERY_S
            ):
                rows[asset] = AssetHistoryView(asset, revision, entries, last.trend, last.fitted_at)
            else:
                rows[asset] = AssetHistoryView(
                    asset, revision, entries, history.analyze_balance_trend(asset), monotonic
                )
        if not changed and len(rows) == len(previous):
            return previous
        return MappingProxyType(rows)


NO_HISTORY: Mapping[str, AssetHistoryView] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class View:
    now: datetime  # when it was read: every age on screen is measured from it
    balances: Mapping[str, Balance] = field(default_factory=lambda: MappingProxyType({}))
    values: Mapping[str, Decimal | None] = field(default_factory=lambda: MappingProxyType({}))  # in prices.quote
    total: Decimal = Decimal(0)  # in prices.quote, of every asset with a price
    missing: tuple[str, ...] = ()  # assets held but left out of `total`: no price for them
    prices: PricesView = PricesView()
    feed: FeedView = FeedView()
    engine: EngineView = EngineView()
    store: StoreView = StoreView()
    issues: tuple[ValidationIssue, ...] = ()  # open validation issues, most severe first
    selection: SelectionView = SelectionView()
    history: Mapping[str, AssetHistoryView] = field(
        default_factory=lambda: NO_HISTORY
    )  # every asset held, by name (the history pane)

    @staticmethod
    def read(backend: Backend, selected: str | None, previous: View | None = None) -> View:
        """Everything the main screen draws, in one pass over the backend; `previous` saves rereading
        and refitting the history of the assets that stood still."""
        manager, config = backend.manager, backend.config
        now = manager.clock.now()
        balances = manager.shown_balances()  # a fresh dict: only this view holds it
        quote, prices = config.engine.value_in, backend.prices
        values = {asset: prices.value(asset, b.total, quote) for asset, b in balances.items()}
        total, missing = prices.total_value(balances, quote)
        ticker, rest_prices, monotonic = backend.ticker, backend.rest_prices, manager.clock.monotonic()
        feed = FeedView.read(backend, now, monotonic)
        history = AssetHistoryView.read(
            manager.history, sorted(balances), monotonic, NO_HISTORY if previous is None else previous.history
        )
        status, stats = manager.get_status(), manager.get_statistics()
        session = backend.session
        return View(
            now=now,
            balances=MappingProxyType(balances),
            values=MappingProxyType(values),
            total=total,
            missing=missing,
            prices=PricesView(
                quote=quote,
                priced=bool(prices.symbols),
                state=None if ticker is None else ticker.health.state,
                error="" if ticker is None else ticker.health.error,
                endpoint=backend.public_url,
                from_rest=rest_prices is not None,
                rest_error="" if rest_prices is None else rest_prices.error,
            ),
            feed=feed,
            engine=EngineView(
                source=status.source,
                cache=status.cache,
                breaker=status.breaker,
                breaker_retry_in=status.breaker_retry_in,
                rate_counter=status.rate_counter,
                rate_limit=status.rate_limit,
                rest_calls=stats.rest_calls,
                fallbacks=stats.fallbacks,
                last_rest_at=status.last_rest_at,
            ),
            store=StoreView(
                read_only=backend.read_only,
                session_id=None if session is None else session.id,
                history_lost=0 if backend.history_writer is None else backend.history_writer.lost,
                session_lost=backend.session_lost,
            ),
            issues=manager.validator.active_issues,
            selection=SelectionView.of(history, selected, balances),
            history=history,
        )

    def reselect(self, asset: str | None) -> View:
        """This view with `asset` selected: the table's cursor moved as it took this view's rows (its first
        rows, or the selected row gone), and the panel follows it in the same tick; a replay selects too."""
        return replace(self, selection=SelectionView.of(self.history, asset, self.balances))


def news(backend: Backend, selected: str | None) -> tuple[object, ...]:
    """What can move between ticks, read in O(1): while none of it changed, no figure did but the ages (and
    highlights), which move by the second: the main screen paints those as the app's second moves. It reads a
    View at a tick only when this changed since its last tick. An idle tick then reads and paints
    nothing (a View of 200 assets cost an idle console several percent of a core at 10 Hz); anything else
    that changed shows within the second. The feed's message count is left to the second: heartbeats move it
    about once a second, out of step with it, and would make a quiet console read and paint twice a second."""
    manager = backend.manager
    health = manager.health
    return (
        manager.revision,
        backend.prices.revision,
        health.state,
        health.system,
        health.reconnects,
        selected,
    )
