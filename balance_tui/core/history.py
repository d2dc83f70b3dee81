"""Per-asset balance history: what the sparklines draw and what trends are read from.

Each asset keeps its entries oldest first, bounded by count and by age. External flows (deposits,
withdrawals, manual adjustments) are marked with their signed amount so a trend is read from what the
bot's trading did, not from money arriving or leaving. Used from the event loop only (not thread-safe).

The newest `recent` entries of an asset are kept whole, as readers take them (the sparklines read the latest
120 at every tick the asset changes); older ones are kept compact (`_Series`): a `HistoryEntry` with its
datetime and Decimal is ~250 bytes, and 2,000 of them for each of 200 busy assets were ~100 MB.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
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
_MICROSECOND = timedelta(microseconds=1)
_HOUR_US = _HOUR // _MICROSECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RECENT = 128  # the newest entries per asset kept whole: at least what a reader takes at every tick (view.SPARK_POINTS)


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
        recent: int = RECENT,
    ) -> None:
        if max_entries_per_asset < 1:
            raise ValueError(f"max_entries_per_asset must be at least 1, got {max_entries_per_asset}")
        self.max_entries_per_asset = max_entries_per_asset
        self._recent = recent
        self.retention = retention
        self.change_threshold = change_threshold
        self.stable_threshold = stable_threshold
        self._clock = clock or SystemClock()
        self._entries: dict[str, _Series] = {}
        self._revisions: dict[str, int] = {}  # per asset, counts every entry added or dropped
        self._sums: dict[str, _Sums] = {}  # per asset, kept with its entries; gone after an insert out of order

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
        if not entries or entry.at >= entries.last_at():
            entries.append(entry)  # the usual case: entries arrive in time order
            index = len(entries) - 1
            if (sums := self._sums.get(asset)) is not None:
                sums.append(entry)
        else:
            index = entries.insert(entry)
            self._sums.pop(asset, None)  # every later entry's flows moved: summed again when next read
        self._revisions[asset] = self._revisions.get(asset, 0) + 1
        if len(entries) > self.max_entries_per_asset:
            self._dropped(asset, entries.popleft())
            if index == 0:  # it was the oldest, so it is the one dropped
                return False
            index -= 1
        if index == 0:
            return False
        previous = entries.total(index - 1)
        delta = abs(EXACT.subtract(total, previous))
        return delta != 0 and delta >= EXACT.multiply(self.change_threshold, abs(previous))

    def get_asset_history(self, asset: str, limit: int | None = None) -> tuple[HistoryEntry, ...]:
        """The latest `limit` entries (all when None), oldest first."""
        entries = self._pruned(asset)
        return tuple(entries.since(0 if limit is None else max(0, len(entries) - limit)))

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
        entries = self._pruned(asset)
        if not entries:
            return None
        start = entries.bisect_left(since)
        if start == 0:  # the usual case, the window is every entry kept: O(1)
            sums = self._sums.get(asset)
            if sums is None:
                sums = self._sums[asset] = _Sums.of(entries.since(0))
        elif start == len(entries):
            return None
        else:
            sums = _Sums.of(entries.since(start))
        return sums.trend(self.stable_threshold, entries.last_at() - entries.at(start))

    def _dropped(self, asset: str, entry: HistoryEntry) -> None:
        if (sums := self._sums.get(asset)) is not None:
            sums.drop_first(entry)

    def _pruned(self, asset: str) -> _Series:
        """The asset's entries, with those older than the retention dropped."""
        entries = self._entries.get(asset)
        if entries is None:
            entries = self._entries[asset] = _Series(self._recent)
        cutoff = self._clock.now() - self.retention
        if entries.starts_before(cutoff):
            while entries.starts_before(cutoff):
                self._dropped(asset, entries.popleft())
            self._revisions[asset] = self._revisions.get(asset, 0) + 1
        return entries


class _Series:
    """One asset's entries, oldest first: the newest `recent` whole, the older ones compact.

    A compact entry is its time in integer microseconds (in an array), its total as the Decimal's string
    (exact: `Decimal(str(d))` is `d`, digits and exponent alike) and the rest of its fields as one tuple,
    shared with the entry before when they are the same (the usual case: the same held, source and kind, no
    flow). Whole entries are handed out as they are; compact ones are made whole again when read (reads of
    more than the recent ones are rare: the asset screen, a fit after a late entry). ~90 bytes an entry, not ~250.
    """

    __slots__ = ("_rest", "_times", "_totals", "_whole", "recent")

    def __init__(self, recent: int) -> None:
        self.recent = recent
        self._times = array("q")  # microseconds since the epoch, of the compact entries
        self._totals: deque[str] = deque()
        self._rest: deque[tuple[Decimal, str, EntryKind, Decimal]] = deque()
        self._whole: deque[HistoryEntry] = deque()

    def __len__(self) -> int:
        return len(self._times) + len(self._whole)

    def at(self, index: int) -> datetime:
        compact = len(self._times)
        return _time(self._times[index]) if index < compact else self._whole[index - compact].at

    def last_at(self) -> datetime:
        return self.at(len(self) - 1)

    def starts_before(self, cutoff: datetime) -> bool:
        """Whether the oldest entry is older than `cutoff` (False when there is none); asked at every record."""
        if self._times:
            return self._times[0] < _micros(cutoff)
        return bool(self._whole) and self._whole[0].at < cutoff

    def total(self, index: int) -> Decimal:
        compact = len(self._times)
        return Decimal(self._totals[index]) if index < compact else self._whole[index - compact].total

    def since(self, start: int) -> Iterator[HistoryEntry]:
        """The entries from `start` on, oldest first."""
        compact = len(self._times)
        if start < compact:  # in step, not by index: a deque's middle is O(n) to reach
            columns = (itertools.islice(column, start, None) for column in (self._times, self._totals, self._rest))
            for micros, total, rest in zip(*columns, strict=True):
                yield HistoryEntry(_time(micros), Decimal(total), *rest)
        yield from itertools.islice(self._whole, max(start - compact, 0), None)

    def bisect_left(self, at: datetime) -> int:
        """The index of the first entry at or after `at`."""
        whole = self._whole
        if whole and whole[0].at < at:
            return len(self._times) + bisect.bisect_left(whole, at, key=_at)
        return bisect.bisect_left(self._times, _micros(at))

    def append(self, entry: HistoryEntry) -> None:
        self._whole.append(entry)
        if len(self._whole) > self.recent:
            self._compact(self._whole.popleft())

    def insert(self, entry: HistoryEntry) -> int:
        """Put an entry older than the newest in its place in time (after those at the same time); its index."""
        whole = self._whole
        if whole and entry.at >= whole[0].at:
            index = bisect.bisect_right(whole, entry.at, key=_at)
            whole.insert(index, entry)
            placed = len(self._times) + index  # where it stays when the oldest whole one is compacted
            if len(whole) > self.recent:
                self._compact(whole.popleft())
            return placed
        micros = _micros(entry.at)
        index = bisect.bisect_right(self._times, micros)
        self._times.insert(index, micros)
        self._totals.insert(index, str(entry.total))
        self._rest.insert(index, (entry.held, entry.source, entry.kind, entry.flow))
        return index

    def popleft(self) -> HistoryEntry:
        if not self._times:
            return self._whole.popleft()
        return HistoryEntry(_time(self._times.pop(0)), Decimal(self._totals.popleft()), *self._rest.popleft())

    def _compact(self, entry: HistoryEntry) -> None:
        rest = (entry.held, entry.source, entry.kind, entry.flow)
        if self._rest and _same_rest(self._rest[-1], rest):
            rest = self._rest[-1]
        self._times.append(_micros(entry.at))
        self._totals.append(str(entry.total))
        self._rest.append(rest)


def _same_rest(a: tuple[Decimal, str, EntryKind, Decimal], b: tuple[Decimal, str, EntryKind, Decimal]) -> bool:
    """The same fields, the amounts written alike too (0 and 0E-8 are equal, but they read differently)."""
    return (
        a[1] == b[1]
        and a[2] is b[2]
        and (a[0] is b[0] or a[0].compare_total(b[0]) == 0)
        and (a[3] is b[3] or a[3].compare_total(b[3]) == 0)
    )


class _Sums:
    """The sums a least-squares line needs, kept exact as entries come and go, so a fit costs O(1), not
    O(entries): the history pane refits every changing asset, and 2,000 entries took 5 ms to fit afresh.

    x is microseconds since `origin` (an int), y the total less every external flow up to and including the
    entry (from any fixed start: a constant shift of y changes neither the slope nor the residuals). Python
    ints and Decimals in the EXACT context: nothing is rounded until `trend`.
    """

    __slots__ = ("flows_before", "flows_through", "n", "origin", "sx", "sxx", "sxy", "sy", "syy", "totals")

    def __init__(self, origin: datetime) -> None:
        self.origin = origin
        self.n = self.sx = self.sxx = 0
        self.sy = self.syy = self.sxy = self.totals = ZERO
        self.flows_before = self.flows_through = ZERO  # flows before the first entry kept / up to the last

    @classmethod
    def of(cls, entries: Iterable[HistoryEntry]) -> _Sums:
        sums: _Sums | None = None
        for entry in entries:
            sums = sums or cls(entry.at)
            sums.append(entry)
        return sums or cls(datetime.min)

    def append(self, entry: HistoryEntry) -> None:
        with localcontext(EXACT):
            self.flows_through += entry.flow
            self._add(entry, entry.total - self.flows_through, 1)

    def drop_first(self, entry: HistoryEntry) -> None:
        with localcontext(EXACT):
            self.flows_before += entry.flow
            self._add(entry, entry.total - self.flows_before, -1)

    def _add(self, entry: HistoryEntry, y: Decimal, sign: int) -> None:
        x = (entry.at - self.origin) // _MICROSECOND
        self.n += sign
        self.sx += sign * x
        self.sxx += sign * x * x
        self.sy += sign * y
        self.syy += sign * y * y
        self.sxy += sign * x * y
        self.totals += sign * entry.total

    def trend(self, stable_threshold: Decimal, span: timedelta) -> TrendAnalysis | None:
        """The fitted line over entries `span` apart first to last; None with fewer than two distinct times.
        Rounded once, at the end."""
        n = self.n
        sxx = n * self.sxx - self.sx * self.sx  # n times the centred sums: exact in ints and EXACT
        if n < 2 or sxx == 0:
            return None
        with localcontext(EXACT):
            sxy = n * self.sxy - self.sx * self.sy
            syy = n * self.syy - self.sy * self.sy
            slope = sxy / sxx * _HOUR_US
            residuals = max(syy - sxy * sxy / sxx, ZERO) / n  # the sum of squared residuals
            strength = sxy * sxy / (sxx * syy) if syy else ZERO
            level = abs(self.totals / n)
        slope, strength, level = +slope, +strength, +level  # to the default context's precision
        if abs(slope) <= stable_threshold * level:
            direction = TrendDirection.STABLE
        else:
            direction = TrendDirection.INCREASING if slope > 0 else TrendDirection.DECREASING
        return TrendAnalysis(
            trend_direction=direction,
            trend_strength=strength,
            slope_per_hour=slope,
            volatility=(+(residuals / n)).sqrt(),
            samples=n,
            span=span,
        )


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(0, 0, micros)  # positional: a third faster than by keyword


def _at(entry: HistoryEntry) -> datetime:
    return entry.at
