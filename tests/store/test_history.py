"""History: one writer thread, batched, deduplicated, pruned, never blocking the feed; exact sparklines."""

import logging
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from balance_tui.core.events import HoldAmounts, LedgerEntry, Source
from balance_tui.core.model import Balance
from balance_tui.store.history import (
    MAX_POINTS,
    HistoryWriter,
    _bucket_width,
    _buckets,
    history,
    latest_sample,
    ledger,
    ledger_entries,
    prune,
)
from balance_tui.store.tables import BalanceSample
from tests.store.support import T0, row_counts

D = Decimal


def sample(asset: str, total: str, seconds: float, held: str = "0") -> Balance:
    return Balance(asset, D(total), (), Source.WS, T0 + timedelta(seconds=seconds), HoldAmounts(hold_trade=D(held)))


def entry(n: int) -> LedgerEntry:
    return LedgerEntry(
        ledger_id=f"L{n:06d}-ABCDE-FGHIJK", ref_id=f"T{n}", timestamp=T0 + timedelta(seconds=n), type="trade",
        asset="BTC", wallet_type="spot", wallet_id="main", amount=D("0.0001"), fee=D("0.00000026"),
        balance=D("1.5") + n * D("0.0001"), category="trade", subtype="",
    )  # fmt: skip


def writer(engine: Engine, **kw) -> HistoryWriter:  # type: ignore[no-untyped-def]
    return HistoryWriter(engine, retention=timedelta(days=3650), clock=lambda: T0, **kw)


def test_updates_are_written_in_batches_not_one_transaction_each(migrated: Engine) -> None:
    history_writer = writer(migrated, max_batch=2_000, flush_interval=0.2)
    history_writer.start()
    for n in range(10_000):
        assert history_writer.record_balance(sample("BTC", f"1.{n:04d}", n, held="0.5"))
    history_writer.close()
    assert history_writer.written == 10_000 and history_writer.dropped == history_writer.failed == 0
    assert history_writer.flushes <= 10_000 // 2_000 + 10  # a handful of flushes, not ten thousand
    with Session(migrated) as db:
        stored = db.exec(select(BalanceSample).order_by(col(BalanceSample.id))).all()
    assert [s.total for s in stored] == [D(f"1.{n:04d}") for n in range(10_000)]
    assert {(s.held, s.source) for s in stored} == {(D("0.5"), "ws")}


def test_ledger_entries_replayed_three_times_are_stored_once(migrated: Engine) -> None:
    history_writer = writer(migrated)
    history_writer.start()
    for _ in range(3):  # the WS stream, a reconnect replay, a REST reconcile
        for n in range(100):
            history_writer.record_ledger(entry(n))
    history_writer.close()
    stored = ledger_entries(migrated, since=T0 - timedelta(seconds=1))
    assert [e.ledger_id for e in stored] == [entry(n).ledger_id for n in range(100)]
    assert stored[7].balance == D("1.5007") and stored[7].fee == D("0.00000026")


def test_a_sessions_ledger_is_read_newest_first_within_its_range_by_asset_and_capped(migrated: Engine) -> None:
    history_writer = writer(migrated)
    history_writer.start()
    for n in range(10):
        history_writer.record_ledger(entry(n)._replace(asset="BTC" if n % 2 else "USD"))
    history_writer.record_ledger(entry(10)._replace(timestamp=T0 + timedelta(seconds=5)))  # same time as #5
    history_writer.close()
    read = ledger(migrated, since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=7))
    assert [e.ref_id for e in read.entries] == ["T7", "T6", "T10", "T5", "T4", "T3", "T2"]  # both ends count
    assert read.total == 7
    btc = ledger(migrated, since=T0, asset="BTC", limit=3)
    assert [e.ref_id for e in btc.entries] == ["T9", "T7", "T10"] and btc.total == 6  # capped, total told
    seen = max(e.id or 0 for e in read.entries if e.ref_id == "T7")
    since = ledger(migrated, since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=7), after_id=seen)
    assert [e.ref_id for e in since.entries] == ["T10"] and since.total == 1  # only those stored after it


def test_a_full_queue_never_blocks_the_producer_and_says_so(migrated: Engine) -> None:
    history_writer = writer(migrated, max_queue=10)  # not started: nothing drains the queue
    accepted = [history_writer.record_balance(sample("ETH", "1", n)) for n in range(25)]
    assert accepted == [True] * 10 + [False] * 15
    assert history_writer.dropped == history_writer.lost == 15  # the feed reads this and asks for a resync
    history_writer.start()
    history_writer.close()
    assert row_counts(migrated)["balance_samples"] == 10


def test_a_failed_flush_is_counted_and_the_writer_goes_on(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    history_writer = writer(engine)  # the store was never migrated: there is no table to write to
    history_writer.start()
    history_writer.record_balance(sample("BTC", "1", 0))
    with caplog.at_level(logging.ERROR):
        history_writer.close()
    assert history_writer.failed == history_writer.lost == 1 and history_writer.written == 0
    assert "they are lost (resync the feed)" in caplog.text


def test_history_older_than_the_retention_is_pruned(migrated: Engine) -> None:
    history_writer = HistoryWriter(migrated, retention=timedelta(hours=1), clock=lambda: T0 + timedelta(hours=2))
    history_writer.start()
    for minutes in (0, 59, 61, 90, 120):
        history_writer.record_balance(sample("BTC", str(minutes), minutes * 60))
        history_writer.record_ledger(entry(minutes * 60))
    history_writer.close()
    assert prune(migrated, before=T0 + timedelta(hours=1)) == (2, 2)  # the writer left them; retention cuts here
    left = history(migrated, "BTC", since=T0 - timedelta(seconds=1), until=T0 + timedelta(hours=3))
    assert [p.total for p in left.points] == [D(61), D(90), D(120)]
    assert len(ledger_entries(migrated, since=T0 - timedelta(seconds=1))) == 3


def test_the_writer_prunes_on_its_own(migrated: Engine) -> None:
    history_writer = HistoryWriter(migrated, retention=timedelta(hours=1), clock=lambda: T0 + timedelta(hours=3))
    history_writer.start()
    history_writer.record_balance(sample("BTC", "1", 0))  # already older than the retention
    history_writer.record_balance(sample("BTC", "2", 3 * 3600))
    history_writer.close()
    # The first flush is followed by a prune: only the recent sample can be left.
    assert [p.total for p in history(migrated, "BTC", since=T0, until=T0 + timedelta(hours=4)).points] == [D(2)]


def store_samples(engine: Engine, offsets: list[float], asset: str = "BTC") -> list[Balance]:
    samples = [sample(asset, f"{n}.{n % 7}", seconds) for n, seconds in enumerate(offsets)]
    history_writer = writer(engine)
    history_writer.start()
    for s in samples:
        history_writer.record_balance(s)
    history_writer.close()
    return samples


def test_a_short_range_comes_back_as_stored(migrated: Engine) -> None:
    samples = store_samples(migrated, [1, 2, 3, 10, 11])
    store_samples(migrated, [5], asset="ETH")
    got = history(migrated, "BTC", since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=10), points=5)
    assert [(p.observed_at, p.total) for p in got.points] == [(s.updated_at, s.total) for s in samples[1:4]]
    assert (got.samples, got.bucket) == (3, None)


def last_of_each_bucket(samples: list[Balance], width: timedelta) -> list[tuple[datetime, Decimal]]:
    """What bucketing must give: the last sample of each clock-aligned bucket [k * width, (k + 1) * width)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    last: dict[int, Balance] = {}
    for s in samples:
        last[(s.updated_at - epoch) // width] = s
    return [(s.updated_at, s.total) for _, s in sorted(last.items())]


def test_a_long_range_gives_the_last_sample_of_each_bucket(migrated: Engine) -> None:
    rng = random.Random(5)
    offsets = sorted({rng.uniform(0, 3600) for _ in range(2_000)} | {float(n) for n in range(600, 900)})
    samples = store_samples(migrated, offsets)
    store_samples(migrated, [rng.uniform(0, 3600) for _ in range(200)], asset="ETH")  # other assets don't leak in
    got = history(migrated, "BTC", since=T0, until=T0 + timedelta(hours=1), points=48)
    # An hour in at most 48 buckets: 1 min would take 60, so 2 min (30 buckets).
    assert (got.samples, got.budget, got.bucket) == (len(samples), 48, timedelta(minutes=2))
    assert [(p.observed_at, p.total) for p in got.points] == last_of_each_bucket(samples, timedelta(minutes=2))
    assert len(got.points) == 30 and got.points[-1].total == samples[-1].total


def test_minutes_of_samples_in_a_day_long_range_fill_the_budget(migrated: Engine) -> None:
    # Issue 13 item 8: 811 samples, two a second, in the last 7 minutes of `history --hours 24`. Buckets of
    # the range asked for (24 min each) gave 2 points; buckets laid over the samples give 41.
    offsets = [23 * 3600 + 3000 + n / 2 for n in range(811)]
    samples = store_samples(migrated, offsets)
    got = history(migrated, "BTC", since=T0, until=T0 + timedelta(hours=24), points=60)
    assert (got.samples, got.bucket) == (811, timedelta(seconds=10))
    assert [(p.observed_at, p.total) for p in got.points] == last_of_each_bucket(samples, timedelta(seconds=10))
    assert len(got.points) == 41 and got.points[-1].total == samples[-1].total


def test_empty_buckets_are_skipped(migrated: Engine) -> None:
    store_samples(migrated, [float(n) for n in range(100)] + [3500.0 + n for n in range(100)])
    got = history(migrated, "BTC", since=T0, until=T0 + timedelta(hours=1), points=60)
    # Buckets are [0, 60), [60, 120), ... [3540, 3600); the sample at 0 is not in the range (since, until].
    assert got.bucket == timedelta(minutes=1)
    assert [p.observed_at for p in got.points] == [T0 + timedelta(seconds=s) for s in (59, 99, 3539, 3599)]


def test_every_hour_with_samples_has_a_point_whatever_points_asks(migrated: Engine) -> None:
    burst = [float(n) for n in range(1_000)]  # a thousand samples in the first 17 minutes
    sparse = [3600.0 * hour + 1800 for hour in range(1, 120, 3)]  # then one every third hour, for five days
    samples = store_samples(migrated, burst + sparse)
    got = history(migrated, "BTC", since=T0 - timedelta(seconds=1), until=T0 + timedelta(days=6), points=10)
    hours = {s.updated_at.replace(minute=0, second=0, microsecond=0) for s in samples}
    assert got.budget == 119 and got.bucket is not None and got.bucket <= timedelta(hours=1)
    assert {p.observed_at.replace(minute=0, second=0, microsecond=0) for p in got.points} == hours
    assert len(got.points) <= got.budget


def test_beyond_the_most_points_a_bucket_spans_hours(migrated: Engine) -> None:
    samples = store_samples(migrated, [1800.0 * n for n in range(1_300)])  # every half hour for 27 days
    got = history(migrated, "BTC", since=T0 - timedelta(seconds=1), until=T0 + timedelta(days=30), points=60)
    assert (got.budget, got.bucket) == (MAX_POINTS, timedelta(hours=2))
    assert [(p.observed_at, p.total) for p in got.points] == last_of_each_bucket(samples, timedelta(hours=2))


@pytest.mark.parametrize("span", [timedelta(0), timedelta(microseconds=7), timedelta(hours=1), timedelta(days=9999)])
@pytest.mark.parametrize("budget", [1, 2, 7, MAX_POINTS])
def test_a_bucket_width_always_fits_the_budget(span: timedelta, budget: int) -> None:
    first = T0 + timedelta(minutes=59, seconds=59)  # just before an hour: an aligned span straddles it
    width = _bucket_width(first, first + span, budget)
    assert _buckets(first, first + span, width) <= budget


def test_latest_sample(migrated: Engine) -> None:
    assert latest_sample(migrated, "BTC") is None
    store_samples(migrated, [5, 1, 3])
    latest = latest_sample(migrated, "BTC")
    assert latest is not None and (latest.observed_at, latest.total) == (T0 + timedelta(seconds=5), D("0.0"))


def test_the_number_of_points_is_bounded(migrated: Engine) -> None:
    with pytest.raises(ValueError, match="need 1-500 points"):
        history(migrated, "BTC", since=T0, until=T0 + timedelta(hours=1), points=MAX_POINTS + 1)
