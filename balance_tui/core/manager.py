"""The balance engine: applies exchange events to per-asset state and tells subscribers what changed."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from balance_tui.core.clock import Clock, SystemClock
from balance_tui.core.events import (
    NO_HOLD,
    BalanceEvent,
    BalancesSnapshot,
    BalancesUpdate,
    HoldAmounts,
    HoldsSnapshot,
    LedgerEntry,
    Source,
    WalletBalance,
)
from balance_tui.core.health import FeedHealth
from balance_tui.core.model import ZERO, Balance

log = logging.getLogger(__name__)

BalanceCallback = Callable[[Balance], Awaitable[None] | None]
CALLBACK_EVENTS = frozenset({"balance_update"})


class BalanceManager:
    """Owns the account state. Fed by the stream; read by the UI, headless commands and bots."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.health = FeedHealth()
        self._balances: dict[str, Balance] = {}
        self._holds: HoldsSnapshot | None = None
        self.holds_at: datetime | None = None  # when the holds in use were read
        self._callbacks: dict[str, list[BalanceCallback]] = {name: [] for name in CALLBACK_EVENTS}
        self._pending: set[asyncio.Future[None]] = set()
        self._snapshot_seen = asyncio.Event()

    def register_callback(self, event: str, fn: BalanceCallback) -> None:
        """Call `fn(balance)` (sync or async) for every changed balance; a failing callback is logged, never fatal."""
        if event not in CALLBACK_EVENTS:
            raise ValueError(f"unknown callback event {event!r}; expected one of {sorted(CALLBACK_EVENTS)}")
        self._callbacks[event].append(fn)

    def get_balance(self, asset: str) -> Balance | None:
        return self._balances.get(asset)

    def get_all_balances(self) -> dict[str, Balance]:
        return dict(self._balances)

    @property
    def holds_source(self) -> Source | None:
        return None if self._holds is None else self._holds.source

    @property
    def has_snapshot(self) -> bool:
        return self._snapshot_seen.is_set()

    async def wait_for_snapshot(self) -> None:
        await self._snapshot_seen.wait()

    def apply(self, event: BalanceEvent) -> list[Balance]:
        """Apply one event; return the balances it changed, after telling subscribers about each."""
        match event:
            case BalancesSnapshot():
                changed = self._apply_snapshot(event)
                self._snapshot_seen.set()
            case BalancesUpdate():
                changed = [self._apply_entry(entry, event.source) for entry in event.entries]
            case HoldsSnapshot():
                changed = self._apply_holds(event)
        for balance in changed:
            self._notify("balance_update", balance)
        return changed

    def _apply_snapshot(self, snap: BalancesSnapshot) -> list[Balance]:
        now = self.clock.now()
        fresh: dict[str, Balance] = {}
        changed: list[Balance] = []
        for item in snap.assets:
            before = self._balances.get(item.asset)
            after = Balance(item.asset, item.balance, item.wallets, snap.source, now, *self._hold_for(item.asset))
            fresh[item.asset] = after
            if before is None or (before.total, before.wallets) != (after.total, after.wallets):
                changed.append(after)
        # An asset missing from a snapshot is no longer held: it drops to zero rather than vanishing.
        for asset in self._balances.keys() - fresh.keys():
            fresh[asset] = replace(self._balances[asset], total=ZERO, wallets=(), source=snap.source, updated_at=now)
            changed.append(fresh[asset])
        self._balances = fresh
        return changed

    def _apply_entry(self, entry: LedgerEntry, source: Source) -> Balance:
        """`entry.balance` is the asset's total, so the touched wallet is whatever the others leave."""
        before = self._balances.get(entry.asset)
        wallets = () if before is None else before.wallets
        key = (entry.wallet_type, entry.wallet_id)
        others = sum((w.balance for w in wallets if (w.type, w.id) != key), ZERO)
        touched = WalletBalance(entry.wallet_type, entry.wallet_id, entry.balance - others)
        kept = tuple(touched if (w.type, w.id) == key else w for w in wallets)
        new_wallets = kept if touched in kept else (*kept, touched)
        after = Balance(entry.asset, entry.balance, new_wallets, source, self.clock.now(), *self._hold_for(entry.asset))
        self._balances[entry.asset] = after
        return after

    def _hold_for(self, asset: str) -> tuple[HoldAmounts, Source | None]:
        """Holds come from REST (`BalanceEx`) and apply to every stream event until the next one replaces them."""
        if self._holds is None:
            return NO_HOLD, None
        return self._holds.holds.get(asset, NO_HOLD), self._holds.source

    def _apply_holds(self, snap: HoldsSnapshot) -> list[Balance]:
        self._holds, self.holds_at = snap, self.clock.now()
        changed = []
        for asset, balance in self._balances.items():
            after = replace(balance, hold=snap.holds.get(asset, NO_HOLD), hold_source=snap.source)
            if after != balance:
                self._balances[asset] = after
                changed.append(after)
        return changed

    def _notify(self, event: str, balance: Balance) -> None:
        for fn in self._callbacks[event]:
            try:
                result = fn(balance)
                if inspect.isawaitable(result):
                    future = asyncio.ensure_future(result)
                    self._pending.add(future)
                    future.add_done_callback(self._callback_done)
            except Exception:
                log.exception("%s callback %r failed for %s", event, fn, balance.asset)

    def _callback_done(self, future: asyncio.Future[None]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("async balance callback failed", exc_info=future.exception())
