"""Per-asset balance history: what the sparklines draw and what trends are read from.

Each asset keeps its entries oldest first, bounded by count and by age. External flows (deposits,
withdrawals, manual adjustments) are marked with their signed amount so a trend is read from what the
bot's trading did, not from money arriving or leaving. Used from the event loop only (not thread-safe).
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from balance_tui.core.clock import Clock, SystemClock
from balance_tui.core.exact import EXACT
from balance_tui.core.model import ZERO

_HOUR = timedelta(hours=1)
# What a fit needs before its direction and rate are stated: a slope per hour read from a few seconds (or a
# few changes) says nothing. Below either, the fit is still made (`TrendAnalysis.stated` is False).
MIN_TREND_SAMPLES = 5
MIN_TREND_SPAN = timedelta(minutes=5)


class EntryKind(StrEnum):
    SAMPLE = "sample"  # the balance as observed; no external flow
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    ADJUSTMENT = "adjustment"  # manual, by an operator


# The sign each kind's flow must have, and how to say it.
_FLOW_SIGNS: dict[EntryKind, tuple[frozenset[int], str]] = {
    EntryKind.SAMPLE: (frozenset({0}), "zero"),
    EntryKind.DEPOSIT: (frozenset({1}), "positive"),
    EntryKind.WITHDRAWAL: (frozenset({-1}), "negative"),
    EntryKind.ADJUSTMENT: (frozenset({-1, 1}), "non-zero"),
}


class HistoryEntry(NamedTuple):
    """A NamedTuple: one is recorded per update, and it builds several times faster than a dataclass."""

    at: datetime
    total: Decimal
    held: Decimal
    source: str
    kind: EntryKind = EntryKind.SAMPLE
    flow: Decimal = ZERO  # what the external flow moved `total` by, signed as Kraken's ledger (withdrawal < 0)


class TrendDirection(StrEnum):
    INCREASING = "increasing"
    DECREASING = "decreasing"
    STABLE = "stable"


@dataclass(frozen=True, slots=True)
class TrendAnalysis:
    """A least-squares line through the flow-adjusted balance against time.

    - `slope_per_hour`: the line's slope, in asset units per hour.
    - `trend_strength`: R² of the fit, 0..1 (0 for a constant series: there is no trend to be strong).
    - `volatility`: the root mean square of the residuals about the line, in asset units: how far the
      balance typically strays from its trend. Flows are removed first, so a deposit is not volatility.
    - `trend_direction`: STABLE when |slope| is at most `stable_threshold` x |mean balance| per hour.
    - `samples` and `span` (from the first sample fitted to the last): what the fit stands on.
    """

    trend_direction: TrendDirection
    trend_strength: Decimal
    slope_per_hour: Decimal
    volatility: Decimal
    samples: int
    span: timedelta

    @property
    def stated(self) -> bool:
        """Enough to say a direction and a rate: MIN_TREND_SAMPLES samples over at least MIN_TREND_SPAN."""
        return self.samples >= MIN_TREND_SAMPLES and self.span >= MIN_TREND_SPAN


class BalanceHistory:
    def __init__(
        self,
        *,
        max_entries_per_asset: int = 2_000,
        retention: timedelta = timedelta(hours=24),
        change_threshold: Decimal = Decimal("0.01"),
        stable_threshold: Decimal = Decimal("0.001"),
        clock: Clock | None = None,
    ) -> None:
        if max_entries_per_asset < 1:
            raise ValueError(f"max_entries_per_asset must be at least 1, got {max_entries_per_asset}")
        self.max_entries_per_asset = max_entries_per_asset
        self.retention = retention
        self.change_threshold = change_threshold
        self.stable_threshold = stable_threshold
        self._clock = clock or SystemClock()
        self._entries: dict[str, deque[HistoryEntry]] = {}
        self._revisions: dict[str, int] = {}  # per asset, counts every entry added or dropped

    def record(
        self,
        asset: str,
        total: Decimal,
        held: Decimal,
        source: str,
        *,
        at: datetime | None = None,
        kind: EntryKind = EntryKind.SAMPLE,
        flow: Decimal = ZERO,
    ) -> bool:
        """Add an entry (at `at`, default now) in time order; return whether it is a significant change.

        Significant: the total moved by at least `change_threshold` of the previous total (from zero, any
        move). Deposits and withdrawals count: the operator wants to see them. An entry older than the
        retention is not kept and is not significant.
        """
        signs, wording = _FLOW_SIGNS[kind]
        if (flow > 0) - (flow < 0) not in signs:
            raise ValueError(f"a {kind} entry needs a {wording} flow, got {flow}")
        entries = self._pruned(asset)
        entry = HistoryEntry(at or self._clock.now(), total, held, source, kind, flow)
        if entry.at < self._clock.now() - self.retention:
            return False
        if not entries or entry.at >= entries[-1].at:
            entries.append(entry)  # the usual case: entries arrive in time order
            index = len(entries) - 1
        else:
            index = bisect.bisect_right(entries, entry.at, key=_at)
            entries.insert(index, entry)
        self._revisions[asset] = self._revisions.get(asset, 0) + 1
        if len(entries) > self.max_entries_per_asset:
            entries.popleft()
            if index == 0:  # it was the oldest, so it is the one dropped
                return False
            index -= 1
        if index == 0:
            return False
        previous = entries[index - 1].total
        delta = abs(EXACT.subtract(total, previous))
        return delta != 0 and delta >= EXACT.multiply(self.change_threshold, abs(previous))

    def get_asset_history(self, asset: str, limit: int | None = None) -> tuple[HistoryEntry, ...]:
        """The latest `limit` entries (all when None), oldest first."""
        entries = self._pruned(asset)
        start = 0 if limit is None else max(0, len(entries) - limit)
        return tuple(itertools.islice(entries, start, None))

    def revision(self, asset: str) -> int:
        """A number that changes whenever `asset`'s entries do (one added, or dropped by age or count): a reader
        caching what it drew from them compares it instead of the entries. O(1) but for the entries it prunes."""
        self._pruned(asset)
        return self._revisions.get(asset, 0)

    def analyze_balance_trend(self, asset: str, analysis_hours: float = 24) -> TrendAnalysis | None:
        """Fit the last `analysis_hours` of `asset`; None with fewer than two distinct sample times.

        The fit is of balance against time (hours since the window's first sample), with the cumulative
        external flows subtracted from each total, so a deposit is a step the line ignores, not a rise.
        """
        since = self._clock.now() - timedelta(hours=analysis_hours)
        entries = list(self._pruned(asset))
        window = entries[bisect.bisect_left(entries, since, key=_at) :]
        if len(window) < 2 or window[0].at == window[-1].at:
            return None
        xs = [_hours(e.at - window[0].at) for e in window]
        ys: list[Decimal] = []
        flows = ZERO
        for entry in window:
            flows = EXACT.add(flows, entry.flow)
            ys.append(EXACT.subtract(entry.total, flows))
        n = Decimal(len(window))
        mean_x, mean_y = sum(xs, ZERO) / n, sum(ys, ZERO) / n
        sxx = sum(((x - mean_x) ** 2 for x in xs), ZERO)
        sxy = sum(((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)), ZERO)
        syy = sum(((y - mean_y) ** 2 for y in ys), ZERO)
        slope = sxy / sxx
        intercept = mean_y - slope * mean_x
        residuals = sum(((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True)), ZERO)
        level = abs(sum((e.total for e in window), ZERO) / n)
        if abs(slope) <= self.stable_threshold * level:
            direction = TrendDirection.STABLE
        else:
            direction = TrendDirection.INCREASING if slope > 0 else TrendDirection.DECREASING
        return TrendAnalysis(
            trend_direction=direction,
            trend_strength=sxy * sxy / (sxx * syy) if syy else ZERO,
            slope_per_hour=slope,
            volatility=(residuals / n).sqrt(),
            samples=len(window),
            span=window[-1].at - window[0].at,
        )

    def _pruned(self, asset: str) -> deque[HistoryEntry]:
        """The asset's entries, with those older than the retention dropped (a deque: both ends are O(1))."""
        entries = self._entries.setdefault(asset, deque())
        cutoff = self._clock.now() - self.retention
        if entries and entries[0].at < cutoff:
            while entries and entries[0].at < cutoff:
                entries.popleft()
            self._revisions[asset] = self._revisions.get(asset, 0) + 1
        return entries


def _at(entry: HistoryEntry) -> datetime:
    return entry.at


def _hours(span: timedelta) -> Decimal:
    """Exact: timedelta.total_seconds() would go through a float."""
    return Decimal(span // timedelta(microseconds=1)) / Decimal(_HOUR // timedelta(microseconds=1))
