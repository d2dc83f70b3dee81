"""The balance engine: applies exchange events to per-asset state and tells subscribers what changed.

Sources in order of trust: the WebSocket feed while it is live, else REST (polled within the rate budget
while the feed is down or stale), else the cache of last known values until its TTL runs out. While the
feed is healthy no REST balance call is made at all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any, Protocol

from balance_tui.core.breaker import BreakerState, CircuitBreaker
from balance_tui.core.budgets import RestRateCounter
from balance_tui.core.cache import BalanceCache, CacheStats
from balance_tui.core.clock import Clock, SystemClock
from balance_tui.core.events import (
    NO_HOLD,
    BalanceEvent,
    BalancesSnapshot,
    BalancesUpdate,
    ExecutionsSnapshot,
    HoldAmounts,
    HoldsSnapshot,
    LedgerEntry,
    Source,
    WalletBalance,
)
from balance_tui.core.exact import EXACT, total
from balance_tui.core.guard import TradeDecision, TradeGuard
from balance_tui.core.health import FeedHealth, FeedState
from balance_tui.core.history import BalanceHistory, EntryKind
from balance_tui.core.model import ZERO, Balance
from balance_tui.core.orders import OpenOrders
from balance_tui.core.validator import BLOCKING, BalanceValidator, RestTotal, ValidationReport

log = logging.getLogger(__name__)

Callback = Callable[[Any], Awaitable[None] | None]
CALLBACK_EVENTS = frozenset({"balance_update", "balance_change", "validation_issue", "source_changed", "ledger_entry"})
# Ledger entry types that move money in or out of the account rather than trade it: not a trend.
_FLOWS = frozenset({"deposit", "withdrawal", "adjustment"})


class BalanceSource(Protocol):
    """Where a full refresh comes from (Kraken REST `BalanceEx`): totals and holds in one reply."""

    calls: int  # requests made so far, for statistics

    async def fetch_balances(self) -> tuple[BalancesSnapshot, HoldsSnapshot]: ...


@dataclass(frozen=True, slots=True)
class SourceChange:
    before: Source | None
    after: Source | None
    at: datetime


@dataclass(frozen=True, slots=True)
class HoldMismatch:
    asset: str
    from_orders: Decimal
    from_rest: Decimal


@dataclass(frozen=True, slots=True)
class HoldCheck:
    """Open orders against REST `BalanceEx.hold_trade`, done whenever both are fresh side by side."""

    at: datetime
    mismatches: tuple[HoldMismatch, ...]


@dataclass(frozen=True, slots=True)
class RefreshResult:
    refreshed: bool
    reason: str = ""  # why not, when it did not


@dataclass(frozen=True, slots=True)
class EngineStatus:
    feed_state: FeedState
    system: str
    source: Source | None  # what the figures come from now; None: nothing trustworthy yet
    tracked_assets: int
    cache: CacheStats
    breaker: BreakerState | None
    breaker_retry_in: float
    rate_counter: float | None
    rate_limit: float | None
    last_rest_at: datetime | None


@dataclass(frozen=True, slots=True)
class EngineStatistics:
    messages: int
    rest_calls: int
    fallbacks: int  # times the engine had to fall back from the feed to REST
    reconnects: int
    gaps: int
    validation_failures: int  # blocking (error, critical) issues raised


class BalanceManager:
    """Owns the account state. Fed by the stream; read by the UI, headless commands and bots."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        source: BalanceSource | None = None,
        breaker: CircuitBreaker | None = None,
        rate: RestRateCounter | None = None,
        cache: BalanceCache[Balance] | None = None,
        history: BalanceHistory | None = None,
        validator: BalanceValidator | None = None,
        guard: TradeGuard | None = None,
        orders: OpenOrders | None = None,
        stale_after: timedelta = timedelta(seconds=5),
        fallback_poll: timedelta = timedelta(seconds=5),
    ) -> None:
        self.clock = clock or SystemClock()
        self.health = FeedHealth()
        # `is None`, not `or`: an empty cache or order book is falsy, and would be swapped for a default.
        self.cache: BalanceCache[Balance] = BalanceCache(clock=self.clock) if cache is None else cache
        self.history = BalanceHistory(clock=self.clock) if history is None else history
        self.validator = BalanceValidator() if validator is None else validator
        self.guard = TradeGuard() if guard is None else guard
        self._source = source
        self._breaker = breaker
        self._rate = rate
        self._stale_after = stale_after
        self._fallback_poll = fallback_poll
        self._balances: dict[str, Balance] = {}
        self._holds: HoldsSnapshot | None = None
        self.holds_at: datetime | None = None  # when the holds in use were read
        self._rest_holds: HoldsSnapshot | None = None
        self.orders = OpenOrders() if orders is None else orders
        self.hold_check: HoldCheck | None = None  # the last cross-check of open orders against BalanceEx
        self._rest_totals: dict[str, RestTotal] = {}
        self._last_rest_at: datetime | None = None
        self._source_in_use: Source | None = None
        self._fallbacks = 0
        self._validation_failures = 0
        self.revision = 0  # counts the events applied: a reader that drew the state compares it to see news
        self._callbacks: dict[str, list[Callback]] = {name: [] for name in CALLBACK_EVENTS}
        self._pending: set[asyncio.Future[None]] = set()
        self._snapshot_seen = asyncio.Event()
        self._dirty: dict[str, tuple[Balance, datetime]] = {}  # changed, not yet observed: latest per asset
        self._flows: dict[str, tuple[Decimal, bool]] = {}  # net external flow, and whether an operator's
        self._observing: asyncio.Handle | None = None

    # -- reading -------------------------------------------------------------------------------------

    def get_balance(self, asset: str) -> Balance | None:
        """The asset as far as it can be trusted: live, refreshed, or cached until the cache's TTL ends."""
        if self.source_in_use() is not Source.CACHE:
            return self._balances.get(asset)
        return self._cached(asset, self.cache.get)

    def get_all_balances(self) -> dict[str, Balance]:
        return self._all_balances(self.cache.get)

    def shown_balances(self) -> dict[str, Balance]:
        """What `get_all_balances` gives, read as an observer: in cache mode the reads are not counted as
        cache hits (a console or recorder repainting would otherwise make the hit ratio its refresh rate)."""
        return self._all_balances(self.cache.peek)

    def _all_balances(self, lookup: Callable[[str], Balance | None]) -> dict[str, Balance]:
        """Every asset's balance; in cache mode each read through `lookup` (`get` counts, `peek` does not)."""
        if self.source_in_use() is not Source.CACHE:
            return dict(self._balances)
        return {asset: b for asset in self._balances if (b := self._cached(asset, lookup)) is not None}

    @staticmethod
    def _cached(asset: str, lookup: Callable[[str], Balance | None]) -> Balance | None:
        cached = lookup(asset)
        return None if cached is None else cached._replace(source=Source.CACHE)

    def source_in_use(self) -> Source | None:
        if self.health.observed_state(self.clock.now(), self._stale_after) is FeedState.LIVE:
            return Source.WS
        if self._last_rest_at is not None and self.clock.now() - self._last_rest_at <= 2 * self._fallback_poll:
            return Source.REST
        return Source.CACHE if self._balances else None

    @property
    def holds_source(self) -> Source | None:
        return None if self._holds is None else self._holds.source

    @property
    def has_snapshot(self) -> bool:
        return self._snapshot_seen.is_set()

    async def wait_for_snapshot(self) -> None:
        await self._snapshot_seen.wait()

    def get_status(self) -> EngineStatus:
        now = self.clock.now()
        return EngineStatus(
            feed_state=self.health.observed_state(now, self._stale_after),
            system=self.health.system,
            source=self.source_in_use(),
            tracked_assets=len(self._balances),
            cache=self.cache.stats(),
            breaker=None if self._breaker is None else self._breaker.state,
            breaker_retry_in=0.0 if self._breaker is None else self._breaker.retry_in,
            rate_counter=None if self._rate is None else self._rate.counter,
            rate_limit=None if self._rate is None else self._rate.limit,
            last_rest_at=self._last_rest_at,
        )

    def get_statistics(self) -> EngineStatistics:
        health = self.health
        return EngineStatistics(
            messages=health.messages,
            rest_calls=0 if self._source is None else self._source.calls,
            fallbacks=self._fallbacks,
            reconnects=health.reconnects,
            gaps=health.gaps,
            validation_failures=self._validation_failures,
        )

    # -- subscribing ---------------------------------------------------------------------------------

    def register_callback(self, event: str, fn: Callback) -> None:
        """`fn` (sync or async) is called for each event; one that raises is logged, never fatal.

        balance_update(Balance): an asset changed (its latest value, once per burst: see `apply`).
        balance_change(Balance): a change of at least the history's change threshold.
        validation_issue(ValidationIssue): an issue newly raised.
        source_changed(SourceChange): the figures now come from somewhere else.
        ledger_entry(LedgerEntry): each completed ledger transaction the feed reports.
        """
        if event not in CALLBACK_EVENTS:
            raise ValueError(f"unknown callback event {event!r}; expected one of {sorted(CALLBACK_EVENTS)}")
        self._callbacks[event].append(fn)

    # -- feeding -------------------------------------------------------------------------------------

    def apply(self, event: BalanceEvent) -> list[Balance]:
        """Apply one event at once; return the balances it changed.

        Ledger entries are told one by one. What follows a change (cache, history, amount rules,
        `balance_update` and `balance_change`) runs at once for snapshots and holds; for updates it conflates
        per asset, running at the latest value once the caller yields to the event loop (at once when none
        runs), so a burst of updates to one asset costs one observation, as DESIGN's data flow says.
        Deposits, withdrawals and adjustments conflate too: the observation carries their net amount, so a
        trend still ignores them.
        """
        self.revision += 1
        now = self.clock.now()
        if isinstance(event, BalancesUpdate):  # the hot path: one ledger entry per message, many a second
            changed = []
            for entry in event.entries:
                balance = self._apply_entry(entry, event.source, now)
                self._dirty[entry.asset] = (balance, now)
                if entry.type in _FLOWS:
                    self._add_flow(entry)
                self._notify("ledger_entry", entry)
                changed.append(balance)
            self._schedule_observation()
            return changed
        if isinstance(event, BalancesSnapshot):
            changed = self._apply_snapshot(event, now)
            if event.source is Source.WS:
                self._snapshot_seen.set()
        elif isinstance(event, HoldsSnapshot):
            changed = self._apply_rest_holds(event, now)
        else:
            self.orders.apply(event)
            changed = self._apply_holds(self._holds_from_orders(), now)
            if isinstance(event, ExecutionsSnapshot):
                self._cross_check_holds(now)
        for balance in changed:
            self._dirty[balance.asset] = (balance, now)
        self._observe_changed()  # snapshots and holds are rare: observed at once, after any burst before them
        self._check_source(now)  # updates cannot change the source: they only flow while the feed is live
        return changed

    async def initialize(self) -> RefreshResult:
        """One REST read so a bot has figures before the feed's first snapshot arrives."""
        return await self.refresh_all_balances()

    async def refresh_all_balances(self) -> RefreshResult:
        """A forced REST refresh of totals and holds, within the breaker and the rate budget."""
        if self._source is None:
            return RefreshResult(False, "no REST source configured")
        if self._rate is not None and not self._rate.can_call("BalanceEx"):
            return RefreshResult(False, f"REST rate budget: next call in {self._rate.wait_time('BalanceEx'):.1f} s")
        try:
            balances, holds = await self._source.fetch_balances()
        except Exception as exc:  # the source classifies and logs; the engine only reports why
            return RefreshResult(False, str(exc))
        self._last_rest_at = self.clock.now()
        self._rest_totals = {a.asset: RestTotal(a.balance, self._last_rest_at) for a in balances.assets}
        self.apply(holds)
        if self.source_in_use() is not Source.WS:
            self.apply(balances)  # while the feed is live, its figures stand; REST only cross-checks
        return RefreshResult(True)

    async def run(self) -> None:
        """Supervise until cancelled: poll REST while the feed cannot be trusted (dropped, stale, or not yet
        connected after a failed attempt), validate, track the source."""
        polling = False
        while True:
            now = self.clock.now()
            feed_live = self.health.observed_state(now, self._stale_after) is FeedState.LIVE
            # Not only after a drop: a feed that cannot connect at start must not leave the operator blind.
            if not feed_live and (self.has_snapshot or self.health.reconnects or self.health.state is FeedState.FAILED):
                if not polling:
                    self._fallbacks += 1
                    log.warning("balances feed %s: falling back to REST", self.health.state.value)
                result = await self.refresh_all_balances()
                polling = True
                if not result.refreshed:
                    log.warning("REST fallback refresh skipped: %s", result.reason)
            else:
                polling = False
            self._check_source(self.clock.now())
            self.validate_all_balances()
            await asyncio.sleep(self._fallback_poll.total_seconds())

    def validate_all_balances(self) -> ValidationReport:
        now = self.clock.now()
        live = self.health.observed_state(now, self._stale_after) is FeedState.LIVE
        report = self.validator.validate(
            self._balances,
            now=now,
            rest_totals=self._rest_totals,
            feed_confirmed_at=self.health.last_message_at if live else None,
        )
        self._announce(report)
        return report

    async def can_trade(self, quote_asset: str, amount: Decimal) -> TradeDecision:
        """Pre-trade check on fresh figures: data older than the guard allows is re-read over REST first."""
        balance = self._confirmed(quote_asset)
        if balance is None or self.clock.now() - balance.updated_at > self.guard.max_age:
            await self.refresh_all_balances()
            balance = self._confirmed(quote_asset)
        return self.guard.can_trade(quote_asset, amount, balance, self.clock.now())

    # -- internals -----------------------------------------------------------------------------------

    def _confirmed(self, asset: str) -> Balance | None:
        """The balance with `updated_at` moved to when a source last vouched for it (not when it changed)."""
        balance = self._balances.get(asset)
        if balance is None:
            return None
        source = self.source_in_use()
        if source is Source.WS and self.health.last_message_at is not None:
            return balance._replace(updated_at=max(balance.updated_at, self.health.last_message_at))
        if source is Source.REST and self._last_rest_at is not None:
            return balance._replace(updated_at=max(balance.updated_at, self._last_rest_at))
        return balance

    def _schedule_observation(self) -> None:
        if self._observing is not None or not self._dirty:
            return
        try:
            self._observing = asyncio.get_running_loop().call_soon(self._observe_changed)
        except RuntimeError:  # no loop: a plain caller sees everything done when apply returns
            self._observe_changed()

    def _observe_changed(self) -> None:
        """Observe every asset changed since last time, at its latest value, with the net of its flows."""
        if self._observing is not None:
            self._observing.cancel()  # when called directly rather than by the loop: nothing is left for it
            self._observing = None
        changed, self._dirty = self._dirty, {}
        flows, self._flows = self._flows, {}
        for asset, (balance, at) in changed.items():
            flow, adjusted = flows.get(asset, (ZERO, False))
            self._observe(balance, at, _flow_kind(flow, adjusted), flow)

    def _add_flow(self, entry: LedgerEntry) -> None:
        flow, adjusted = self._flows.get(entry.asset, (ZERO, False))
        moved = EXACT.subtract(EXACT.add(flow, entry.amount), entry.fee)
        self._flows[entry.asset] = (moved, adjusted or entry.type == "adjustment")

    def _observe(self, balance: Balance, at: datetime, kind: EntryKind, flow: Decimal) -> None:
        """Everything that follows a change: cache, history, amount rules, subscribers."""
        self.cache.set(balance.asset, balance)
        significant = self.history.record(
            balance.asset, balance.total, balance.held, balance.source, at=at, kind=kind, flow=flow
        )
        report = self.validator.validate_single_balance(
            balance.asset, balance.total, balance.held, now=at, free=balance.free
        )
        if report.issues:
            self._announce(report)
        self._notify("balance_update", balance)
        if significant:
            self._notify("balance_change", balance)

    def _announce(self, report: ValidationReport) -> None:
        for issue in report.issues:
            if issue.count == 1:
                if issue.severity in BLOCKING:
                    self._validation_failures += 1
                self._notify("validation_issue", issue)

    def _check_source(self, now: datetime) -> None:
        current = self.source_in_use()
        if current is not self._source_in_use:
            change = SourceChange(self._source_in_use, current, now)
            self._source_in_use = current
            log.info("balances now from %s (were from %s)", current, change.before)
            self._notify("source_changed", change)

    def _apply_snapshot(self, snap: BalancesSnapshot, now: datetime) -> list[Balance]:
        fresh: dict[str, Balance] = {}
        changed: list[Balance] = []
        for item in snap.assets:
            before = self._balances.get(item.asset)
            after = Balance(item.asset, item.balance, item.wallets, snap.source, now, *self._hold_for(item.asset))
            fresh[item.asset] = after
            if before is None or (before.total, before.wallets, before.source) != (
                after.total,
                after.wallets,
                after.source,
            ):
                changed.append(after)
            else:
                fresh[item.asset] = before  # unchanged: keep when it last changed
        # An asset missing from a snapshot is no longer held: it drops to zero rather than vanishing.
        for asset in self._balances.keys() - fresh.keys():
            fresh[asset] = self._balances[asset]._replace(total=ZERO, wallets=(), source=snap.source, updated_at=now)
            changed.append(fresh[asset])
        self._balances = fresh
        return changed

    def _apply_entry(self, entry: LedgerEntry, source: Source, now: datetime) -> Balance:
        """`entry.balance` is the asset's total, so the touched wallet is whatever the others leave."""
        asset = entry.asset
        before = self._balances.get(asset)
        if before is None:
            after = Balance(asset, entry.balance, _wallets_after((), entry), source, now, *self._hold_for(asset))
        else:  # its hold is current: every change of holds is applied to every balance at once
            wallets = _wallets_after(before.wallets, entry)
            after = Balance(asset, entry.balance, wallets, source, now, before.hold, before.hold_source)
        self._balances[asset] = after
        return after

    def _hold_for(self, asset: str) -> tuple[HoldAmounts, Source | None]:
        """Holds come from REST (`BalanceEx`) and apply to every stream event until the next one replaces them."""
        if self._holds is None:
            return NO_HOLD, None
        return self._holds.holds.get(asset, NO_HOLD), self._holds.source

    def _holds_from_orders(self) -> HoldsSnapshot:
        """Held per asset from the open orders; credit lines come only from REST, so they are kept."""
        credit = {} if self._rest_holds is None else self._rest_holds.holds
        held = self.orders.holds()
        holds = {}
        for asset in held.keys() | credit.keys():
            lines = credit.get(asset, NO_HOLD)
            holds[asset] = HoldAmounts(held.get(asset, ZERO), lines.credit, lines.credit_used)
        return HoldsSnapshot(holds, Source.WS)

    def _apply_rest_holds(self, snap: HoldsSnapshot, now: datetime) -> list[Balance]:
        """REST holds stand until the feed's open orders arrive; after that they only cross-check them."""
        self._rest_holds = snap
        if self.holds_source is Source.WS and self.health.state is FeedState.LIVE:
            self._cross_check_holds(now)
            return []
        return self._apply_holds(snap, now)

    def _cross_check_holds(self, now: datetime) -> None:
        if self._rest_holds is None or self._holds is None or self._holds.source is not Source.WS:
            return
        rest, live = self._rest_holds.holds, self._holds.holds
        mismatches = tuple(
            HoldMismatch(asset, live.get(asset, NO_HOLD).hold_trade, rest.get(asset, NO_HOLD).hold_trade)
            for asset in sorted(rest.keys() | live.keys())
            if not _same_hold(live.get(asset, NO_HOLD).hold_trade, rest.get(asset, NO_HOLD).hold_trade)
        )
        self.hold_check = HoldCheck(now, mismatches)
        for mismatch in mismatches:
            log.warning(
                "%s held %s from open orders, %s from REST BalanceEx",
                mismatch.asset,
                mismatch.from_orders,
                mismatch.from_rest,
            )

    def _apply_holds(self, snap: HoldsSnapshot, now: datetime) -> list[Balance]:
        self._holds, self.holds_at = snap, now
        changed = []
        for asset, balance in self._balances.items():
            after = balance._replace(hold=snap.holds.get(asset, NO_HOLD), hold_source=snap.source)
            if after != balance:
                self._balances[asset] = after
                changed.append(after)
        return changed

    def _notify(self, event: str, payload: object) -> None:
        for fn in self._callbacks[event]:
            try:
                result = fn(payload)
                if result is not None and inspect.isawaitable(result):
                    future = asyncio.ensure_future(result)
                    self._pending.add(future)
                    future.add_done_callback(self._callback_done)
            except Exception:
                log.exception("%s callback %r failed", event, fn)

    def _callback_done(self, future: asyncio.Future[None]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("async callback failed", exc_info=future.exception())


def _flow_kind(flow: Decimal, adjusted: bool) -> EntryKind:
    """What history calls the net money moved in or out since the last observation."""
    if not flow:
        return EntryKind.SAMPLE
    if adjusted:
        return EntryKind.ADJUSTMENT
    return EntryKind.DEPOSIT if flow > 0 else EntryKind.WITHDRAWAL


def _wallets_after(wallets: tuple[WalletBalance, ...], entry: LedgerEntry) -> tuple[WalletBalance, ...]:
    if len(wallets) == 1 and wallets[0].type == entry.wallet_type and wallets[0].id == entry.wallet_id:
        return (WalletBalance(entry.wallet_type, entry.wallet_id, entry.balance),)  # one wallet: it holds the total
    key = (entry.wallet_type, entry.wallet_id)
    others = total(w.balance for w in wallets if w[:2] != key)
    touched = WalletBalance(*key, EXACT.subtract(entry.balance, others))
    kept = tuple(touched if w[:2] == key else w for w in wallets)
    return kept if touched in kept else (*kept, touched)


def _same_hold(from_orders: Decimal, from_rest: Decimal) -> bool:
    """Equal at the precision Kraken reports (its REST figure's decimals): a buy's hold is price x qty,
    rounded up to the quote's decimals there."""
    exponent = from_rest.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0:
        return from_orders == from_rest
    return from_orders.quantize(Decimal(1).scaleb(exponent), ROUND_UP) == from_rest
