"""The feed's health: its event log, its message rates and its state changes, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from balance_tui.core.health import (
    EVENTS_KEPT,
    ConnectionHealth,
    FeedEvent,
    FeedEventKind,
    FeedEventLog,
    FeedState,
    MessageRate,
)
from tests.conftest import FrozenClock

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_event_log_keeps_the_last_fifty_newest_first() -> None:
    log = FeedEventLog()
    for n in range(EVENTS_KEPT + 7):
        log.record(T0 + timedelta(seconds=n), FeedEventKind.RETRY, f"attempt {n}")
    recent = log.recent()
    assert len(log) == len(recent) == EVENTS_KEPT == 50 and log.recorded == 57
    assert recent[0] == FeedEvent(T0 + timedelta(seconds=56), FeedEventKind.RETRY, "attempt 56")
    assert recent[-1].text == "attempt 7"  # the first seven fell out
    assert [e.at for e in recent] == sorted((e.at for e in recent), reverse=True)


def test_recent_is_the_same_tuple_until_something_new_is_recorded() -> None:
    log = FeedEventLog(size=3)
    assert log.recent() == ()
    log.record(T0, FeedEventKind.CONNECTED, "to ws://x")
    first = log.recent()
    assert log.recent() is first  # a reader polling at the UI's rate copies nothing while the feed is quiet
    log.record(T0, FeedEventKind.SNAPSHOT, "balances: 3 assets, seq 1")
    assert log.recent() is not first and [e.kind for e in log.recent()] == ["snapshot", "connected"]


def test_every_kind_fits_one_ten_letter_column() -> None:
    assert max(len(kind) for kind in FeedEventKind) <= 10


def test_the_rate_over_the_last_second_counts_only_the_last_whole_second() -> None:
    clock, rate = FrozenClock(), MessageRate()
    assert (rate.last_second(clock.monotonic()), rate.mean_per_second(clock.monotonic())) == (0, None)
    for _ in range(7):
        rate.count(clock.monotonic())
    assert rate.last_second(clock.monotonic()) == 0  # the second still filling is not counted yet
    clock.advance(1)
    for _ in range(3):
        rate.count(clock.monotonic())
    assert rate.last_second(clock.monotonic()) == 7
    clock.advance(1)
    assert rate.last_second(clock.monotonic()) == 3
    clock.advance(5)
    assert rate.last_second(clock.monotonic()) == 0  # quiet since


def test_the_minute_rate_is_the_mean_over_whole_seconds_since_the_first_message_up_to_a_minute() -> None:
    clock, rate = FrozenClock(), MessageRate()
    for _ in range(30):  # 10 a second for 30 s
        for _ in range(10):
            rate.count(clock.monotonic())
        clock.advance(1)
    assert rate.mean_per_second(clock.monotonic()) == pytest.approx(10)
    clock.advance(30)  # then 30 s of silence: half the minute at 10/s
    assert rate.mean_per_second(clock.monotonic()) == pytest.approx(5)
    clock.advance(30)  # a whole minute of silence
    assert rate.mean_per_second(clock.monotonic()) == 0


def test_a_counter_reused_a_minute_later_starts_from_zero() -> None:
    clock, rate = FrozenClock(), MessageRate()
    for _ in range(100):
        rate.count(clock.monotonic())
    clock.advance(60)  # the same slot of the ring, a minute on
    rate.count(clock.monotonic())
    clock.advance(1)
    assert rate.last_second(clock.monotonic()) == 1
    assert rate.mean_per_second(clock.monotonic()) == pytest.approx(1 / 60)


def test_counting_keeps_no_timestamp_per_message() -> None:
    rate = MessageRate()
    for n in range(10_000):
        rate.count(1000 + n / 1000)  # 10 s at 1,000 a second
    assert not hasattr(rate, "__dict__") and len(rate._counts) == len(rate._seconds) == 60
    assert rate.last_second(1010.0) == 1000


def test_a_state_change_remembers_when_and_staying_keeps_the_time() -> None:
    health = ConnectionHealth()
    assert (health.state, health.state_since) == (FeedState.CONNECTING, None)
    health.enter(FeedState.LIVE, T0)
    health.enter(FeedState.LIVE, T0 + timedelta(seconds=9))
    assert (health.state, health.state_since) == (FeedState.LIVE, T0)
    health.enter(FeedState.RECONNECTING, T0 + timedelta(seconds=10))
    assert health.state_since == T0 + timedelta(seconds=10)


def test_each_health_has_its_own_log_and_rate() -> None:
    one, two = ConnectionHealth(), ConnectionHealth()
    one.note(T0, FeedEventKind.STALE, "no data or heartbeat for 5 s")
    one.rate.count(1.0)
    assert len(one.events) == 1 and len(two.events) == 0 and two.rate.last_second(2.0) == 0
