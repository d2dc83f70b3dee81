"""Observed balance history and Kraken ledger entries: written by one thread in batches, read for sparklines.

Writer policy (`HistoryWriter`). Producers (the feed, on the event loop) call `record_balance` and
`record_ledger`, which never block: the item goes on a bounded queue, or, when the queue is full, is
dropped, counted in `dropped`, and the call returns False, so the caller marks the feed "needs resync"
and refetches a snapshot. One thread drains the queue: it gathers items for up to `flush_interval` seconds
(or `max_batch` items) and writes them in one transaction. A ledger entry already stored (same
`ledger_id`) is skipped by the database, so WS replays and REST reconciles never count twice. Every
`prune_interval` it deletes samples and ledger entries older than `retention`. A flush that fails is
logged and its items counted in `failed`: history lost either way means a resync.

Reading (`history`): the bucket budget is `points`, raised to the number of clock hours the samples
touch (so there is never less than a point per hour of data, up to MAX_POINTS). A range with no more
samples than the budget comes back as stored. A longer one is cut into buckets of one round width (1 s,
5 min, 1 h, ...: the narrowest that fits the budget), aligned to the clock and laid over the samples' own
span, not the range asked for: samples of the last 10 minutes asked for over 24 hours still fill the
budget. Each non-empty bucket gives its last sample (the value at the bucket's end, exact, never an
average); a budget of hours or more gives buckets of at most an hour, so every hour with samples has a
point. Cost: one aggregate reads the (asset, observed_at, id) index over the range for the count and the
span (it grows with the rows: about 0.2 s for a week at one sample per 0.6 s, see benchmarks/); then each
bucket is one seek on that index, so picking the points depends on the budget, not on the rows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Engine, Select, bindparam, delete, func, insert, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from balance_tui.core.events import LedgerEntry
from balance_tui.core.model import Balance
from balance_tui.store.books import require_asset
from balance_tui.store.engine import reading, require_writable, writing
from balance_tui.store.tables import BalanceSample, LedgerEntryRecord
from balance_tui.store.types import UTCDateTime

log = logging.getLogger(__name__)

_STOP = object()
_SAMPLES = BalanceSample.__table__
_LEDGER = LedgerEntryRecord.__table__


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    observed_at: datetime
    total: Decimal
    held: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class History:
    """An asset's samples in a range as read: all of them, or the last of each bucket."""

    points: list[HistoryPoint]
    samples: int  # stored in the range: how many the points stand for
    budget: int  # buckets allowed: the `points` asked for, raised to the clock hours the samples touch
    bucket: timedelta | None  # the width of each bucket; None when every sample is a point


class HistoryWriter:
    """The one writer of history: a bounded queue in front of a thread that flushes in batches."""

    def __init__(
        self,
        engine: Engine,
        *,
        retention: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_queue: int = 10_000,
        max_batch: int = 5_000,
        flush_interval: float = 0.5,
        prune_interval: float = 300.0,
    ) -> None:
        require_writable(engine)
        self._engine = engine
        self._retention = retention
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(max_queue)
        self._max_batch = max_batch
        self._flush_interval = flush_interval
        self._prune_interval = prune_interval
        self._thread = threading.Thread(target=self._run, name="balance-tui-history", daemon=True)
        insert_ledger = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._insert_ledger = insert_ledger(_LEDGER).on_conflict_do_nothing(index_elements=["ledger_id"])
        self.dropped = 0  # refused because the queue was full (producer side)
        self.failed = 0  # lost in a flush that failed (writer side)
        self.flushes = 0
        self.written = 0  # items handed to the database (ledger duplicates included)

    def start(self) -> None:
        self._thread.start()

    @property
    def lost(self) -> int:
        """Items that will never reach the database: the feed resyncs when this grew since it last looked."""
        return self.dropped + self.failed

    def record_balance(self, balance: Balance) -> bool:
        """Queue a sample of an observed balance; False (and counted) if the queue is full."""
        return self._offer(balance)

    def record_ledger(self, entry: LedgerEntry) -> bool:
        """Queue a ledger entry; False (and counted) if the queue is full."""
        return self._offer(entry)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread: call on shutdown so nothing recorded is lost."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _offer(self, item: Balance | LedgerEntry) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def _run(self) -> None:
        next_prune = time.monotonic()
        stopping = False
        while not stopping:
            batch, stopping = self._gather()
            if batch:
                self._flush(batch)
            if time.monotonic() >= next_prune and not stopping:
                self._prune()
                next_prune = time.monotonic() + self._prune_interval

    def _gather(self) -> tuple[list[object], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self._flush_interval
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _flush(self, batch: list[object]) -> None:
        samples = [sample_row(item) for item in batch if isinstance(item, Balance)]
        entries = [ledger_row(item) for item in batch if isinstance(item, LedgerEntry)]
        try:
            with self._engine.begin() as connection:
                if samples:
                    connection.execute(insert(_SAMPLES), samples)
                if entries:
                    connection.execute(self._insert_ledger, entries)
        except Exception:
            self.failed += len(batch)
            log.exception("history: a flush of %d items failed; they are lost (resync the feed)", len(batch))
            return
        self.flushes += 1
        self.written += len(batch)

    def _prune(self) -> None:
        try:
            prune(self._engine, before=self._clock() - self._retention)
        except Exception:
            log.exception("history: pruning failed; will try again")


def prune(engine: Engine, *, before: datetime) -> tuple[int, int]:
    """Delete samples and ledger entries older than `before`; return how many of each."""
    with writing(engine) as db:
        samples = db.exec(delete(BalanceSample).where(col(BalanceSample.observed_at) < before))
        entries = db.exec(delete(LedgerEntryRecord).where(col(LedgerEntryRecord.occurred_at) < before))
        return samples.rowcount, entries.rowcount


MAX_POINTS = 500  # SQLite allows at most 500 SELECTs in one compound statement


def history(engine: Engine, asset: str, *, since: datetime, until: datetime, points: int = 120) -> History:
    """Samples of `asset` in (since, until], oldest first: all of them, or the last of each bucket."""
    if not 1 <= points <= MAX_POINTS or until <= since:
        raise ValueError(f"need 1-{MAX_POINTS} points and since < until, got {points} points over {since} .. {until}")
    where: dict[str, object] = {"asset": require_asset(asset), "since": since, "until": until}
    with reading(engine) as db:
        connection = db.connection()
        count, first, last = connection.execute(_SPAN, where).one()
        if not count:
            return History([], 0, points, None)
        budget = min(MAX_POINTS, max(points, _buckets(first, last, _HOUR)))
        if count <= budget:
            rows = connection.execute(_RAW, {**where, "limit": budget}).all()
            return History([HistoryPoint(*row) for row in rows], count, budget, None)
        width = _bucket_width(first, last, budget)
        start, buckets = _floor(first, width), _buckets(first, last, width)
        # Edges on the clock grid, the outer two pulled in to the first and just past the last sample: every
        # bucket then lies within the range, and each is one index seek with no second bound to weigh.
        edges = [first] + [start + width * i for i in range(1, buckets)] + [last + _TICK]
        bounds: dict[str, object] = {"asset": asset}
        for i in range(buckets):
            bounds[f"l{i}"], bounds[f"h{i}"] = edges[i], edges[i + 1]
        rows = connection.execute(_bucketed(buckets), bounds).all()
    return History([HistoryPoint(*row) for row in rows], count, budget, width)


def latest_sample(engine: Engine, asset: str) -> HistoryPoint | None:
    """The last balance of `asset` the exchange was seen with, if any is still kept."""
    query = (
        select(*_POINT).where(BalanceSample.asset == require_asset(asset)).order_by(*(c.desc() for c in _OLDEST_FIRST))
    )
    with reading(engine) as db:
        row = db.exec(query.limit(1)).first()
    return None if row is None else HistoryPoint(*row)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR = timedelta(hours=1)
_TICK = timedelta(microseconds=1)  # the resolution of stored times, on SQLite and PostgreSQL
# Bucket widths an operator reads at a glance; each divides the next larger unit, so buckets up to an hour
# never straddle an hour. Wider than a week: whole weeks.
_WIDTHS = tuple(
    [timedelta(milliseconds=n) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500)]
    + [timedelta(seconds=n) for n in (1, 2, 5, 10, 15, 30)]
    + [timedelta(minutes=n) for n in (1, 2, 5, 10, 15, 20, 30)]
    + [timedelta(hours=n) for n in (1, 2, 3, 4, 6, 12)]
    + [timedelta(days=n) for n in (1, 2, 7)]
)


def bucket_width(width: timedelta) -> str:
    """A bucket width as an operator reads it: 500 ms, 10 s, 5 min, 2 h, 7 d."""
    for unit, name in ((timedelta(days=1), "d"), (timedelta(hours=1), "h"), (timedelta(minutes=1), "min")):
        if width >= unit and width % unit == timedelta(0):
            return f"{width // unit} {name}"
    if width >= timedelta(seconds=1):
        return f"{width.total_seconds():g} s"
    return f"{width // timedelta(milliseconds=1)} ms"


def _floor(at: datetime, width: timedelta) -> datetime:
    return _EPOCH + width * ((at - _EPOCH) // width)


def _buckets(first: datetime, last: datetime, width: timedelta) -> int:
    """How many clock-aligned buckets of `width` the span first..last touches."""
    return (last - _EPOCH) // width - (first - _EPOCH) // width + 1


def _bucket_width(first: datetime, last: datetime, budget: int) -> timedelta:
    """The narrowest round width whose buckets over first..last number at most `budget`."""
    for width in _WIDTHS:
        if _buckets(first, last, width) <= budget:
            return width
    week = timedelta(days=7)
    weeks = 1 + (last - first) // (week * max(1, budget - 1))
    while _buckets(first, last, week * weeks) > budget:
        weeks += 1
    return week * weeks


def ledger_entries(engine: Engine, *, since: datetime, limit: int = 1000) -> list[LedgerEntryRecord]:
    with reading(engine) as db:
        return list(
            db.exec(
                select(LedgerEntryRecord)
                .where(col(LedgerEntryRecord.occurred_at) > since)
                .order_by(col(LedgerEntryRecord.occurred_at), col(LedgerEntryRecord.id))
                .limit(limit)
            ).all()
        )


@dataclass(frozen=True, slots=True)
class Ledger:
    """Ledger entries in a range as read: the newest `limit` of them, newest first."""

    entries: list[LedgerEntryRecord]
    total: int  # in the range: more than len(entries) when the limit cut some off


def ledger(
    engine: Engine,
    *,
    since: datetime,
    until: datetime | None = None,
    asset: str | None = None,
    limit: int = 2000,
    after_id: int = 0,
) -> Ledger:
    """Entries in [since, until] (until None: up to now), of `asset` or of every asset, newest first; a session
    is such a range, and entries stamped the moment it started belong to it. `after_id`: only those stored
    since the entry of that id (ids grow as entries are stored), for a reader that has the rest."""
    where = [col(LedgerEntryRecord.occurred_at) >= since]
    if after_id:
        where.append(col(LedgerEntryRecord.id) > after_id)
    if until is not None:
        where.append(col(LedgerEntryRecord.occurred_at) <= until)
    if asset is not None:
        where.append(LedgerEntryRecord.asset == asset)
    newest_first = (col(LedgerEntryRecord.occurred_at).desc(), col(LedgerEntryRecord.id).desc())
    with reading(engine) as db:
        total = db.exec(select(func.count()).select_from(LedgerEntryRecord).where(*where)).one()
        entries = db.exec(select(LedgerEntryRecord).where(*where).order_by(*newest_first).limit(limit)).all()
    return Ledger(list(entries), total)


_POINT = (BalanceSample.observed_at, BalanceSample.total, BalanceSample.held, BalanceSample.source)
_OLDEST_FIRST = (col(BalanceSample.observed_at), col(BalanceSample.id))
_IN_RANGE = (
    BalanceSample.asset == bindparam("asset"),
    col(BalanceSample.observed_at) > bindparam("since", type_=UTCDateTime()),
    col(BalanceSample.observed_at) <= bindparam("until", type_=UTCDateTime()),
)
_SPAN = select(func.count(), func.min(col(BalanceSample.observed_at)), func.max(col(BalanceSample.observed_at))).where(
    *_IN_RANGE
)
_RAW = select(*_POINT).where(*_IN_RANGE).order_by(*_OLDEST_FIRST).limit(bindparam("limit"))


@lru_cache(maxsize=16)
def _bucketed(points: int) -> Select[tuple[datetime, Decimal, Decimal, str]]:
    """One statement per bucket count, built once: its bounds are parameters (l0, h0, l1, h1, ...; each
    bucket is [lo, hi)), so SQLAlchemy compiles it once and each query only binds values."""
    buckets = union_all(
        *(
            select(
                bindparam(f"l{i}", type_=UTCDateTime()).label("lo"),
                bindparam(f"h{i}", type_=UTCDateTime()).label("hi"),
            )
            for i in range(points)
        )
    ).cte("buckets")
    last_in_bucket = (
        select(BalanceSample.id)
        .where(
            BalanceSample.asset == bindparam("asset"),
            col(BalanceSample.observed_at) >= buckets.c.lo,
            col(BalanceSample.observed_at) < buckets.c.hi,
        )
        .order_by(col(BalanceSample.observed_at).desc(), col(BalanceSample.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    picked = select(last_in_bucket.label("id")).select_from(buckets).subquery()
    return select(*_POINT).join(picked, col(BalanceSample.id) == picked.c.id).order_by(*_OLDEST_FIRST)


def sample_row(balance: Balance) -> dict[str, object]:
    """A `balance_samples` row: what the writer stores, and a recording keeps in the same table."""
    return {
        "asset": balance.asset,
        "total": balance.total,
        "held": balance.held,
        "source": str(balance.source),
        "observed_at": balance.updated_at,
    }


def ledger_row(entry: LedgerEntry) -> dict[str, object]:
    """A `ledger_entries` row, as `sample_row`."""
    return {
        "ledger_id": entry.ledger_id,
        "ref_id": entry.ref_id,
        "occurred_at": entry.timestamp,
        "type": entry.type,
        "subtype": entry.subtype,
        "category": entry.category,
        "asset": entry.asset,
        "wallet_type": entry.wallet_type,
        "wallet_id": entry.wallet_id,
        "amount": entry.amount,
        "fee": entry.fee,
        "balance": entry.balance,
    }
