import logging
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balance_tui.core.cache import BalanceCache, CacheStats
from tests.conftest import FrozenClock


def make(ttl: float = 300.0, max_entries: int = 1000) -> tuple[BalanceCache[str], FrozenClock]:
    clock = FrozenClock()
    return BalanceCache(ttl=ttl, max_entries=max_entries, clock=clock), clock


def test_a_value_is_served_until_its_ttl_runs_out() -> None:
    cache, clock = make()
    cache.set("BTC", "1.5")
    clock.advance(299.9)
    assert cache.get("BTC") == "1.5"
    clock.advance(0.1)
    assert cache.get("BTC") is None
    assert cache.stats() == CacheStats(size=0, max_entries=1000, hits=1, misses=1, evictions=0, expirations=1)


def test_setting_again_restarts_the_ttl() -> None:
    cache, clock = make(ttl=10)
    cache.set("BTC", "1")
    clock.advance(8)
    cache.set("BTC", "2")
    clock.advance(8)
    assert cache.get("BTC") == "2"


def test_reading_does_not_extend_the_ttl() -> None:
    cache, clock = make(ttl=10)
    cache.set("BTC", "1")
    clock.advance(9)
    assert cache.get("BTC") == "1"
    clock.advance(1)
    assert cache.get("BTC") is None


def test_the_least_recently_used_entry_is_evicted_when_full() -> None:
    cache, _ = make(max_entries=2)
    evicted: list[tuple[str, str]] = []
    cache.register_callback("evict", lambda key, value: evicted.append((key, value)))
    cache.set("BTC", "b")
    cache.set("ETH", "e")
    cache.get("BTC")  # ETH is now the least recently used
    cache.set("USD", "u")
    assert evicted == [("ETH", "e")]
    assert (cache.get("BTC"), cache.get("ETH"), cache.get("USD")) == ("b", None, "u")
    assert cache.stats().evictions == 1


def test_replacing_a_key_in_a_full_cache_evicts_nothing() -> None:
    cache, _ = make(max_entries=2)
    cache.set("BTC", "1")
    cache.set("ETH", "1")
    cache.set("BTC", "2")
    assert cache.stats().evictions == 0
    assert (cache.get("BTC"), cache.get("ETH")) == ("2", "1")


def test_an_expired_entry_frees_room_before_a_live_one_is_evicted() -> None:
    cache, clock = make(ttl=10, max_entries=2)
    cache.set("BTC", "1")
    clock.advance(5)
    cache.set("ETH", "1")
    cache.get("BTC")  # most recently used, but the first to expire
    clock.advance(5)
    cache.set("USD", "1")
    stats = cache.stats()
    assert (stats.size, stats.evictions, stats.expirations) == (2, 0, 1)
    assert cache.get("ETH") == "1"


def test_the_oldest_entry_age_is_the_time_since_the_least_recently_set_live_entry() -> None:
    cache, clock = make(ttl=10)
    assert cache.stats().oldest_age is None  # empty
    cache.set("BTC", "1")
    clock.advance(3)
    cache.set("ETH", "1")
    clock.advance(2)
    assert cache.stats().oldest_age == pytest.approx(5)  # BTC, set 5 s ago
    cache.set("BTC", "2")  # setting again makes it the newest: ETH is now the oldest
    assert cache.stats().oldest_age == pytest.approx(2)
    clock.advance(8)  # ETH expires at 10 s; BTC is 8 s old
    stats = cache.stats()
    assert (stats.size, stats.expirations, stats.oldest_age) == (1, 1, pytest.approx(8))
    clock.advance(2)
    assert cache.stats().oldest_age is None


def test_reading_does_not_make_an_entry_younger() -> None:
    cache, clock = make(ttl=10)
    cache.set("BTC", "1")
    clock.advance(4)
    cache.set("ETH", "1")
    cache.get("BTC")  # most recently used, still the longest since set
    assert cache.stats().oldest_age == pytest.approx(4)


def test_hit_rate_counts_hits_per_lookup() -> None:
    cache, _ = make()
    assert cache.stats().hit_rate == 0.0
    cache.set("BTC", "1")
    cache.get("BTC")
    cache.get("BTC")
    cache.get("ETH")
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (2, 1)
    assert stats.hit_rate == pytest.approx(2 / 3)


def test_callbacks_see_set_and_expire_with_their_values() -> None:
    cache, clock = make(ttl=10)
    seen: list[tuple[str, str, str]] = []
    for event in ("set", "evict", "expire"):
        cache.register_callback(event, lambda key, value, event=event: seen.append((event, key, value)))
    cache.set("BTC", "1")
    clock.advance(10)
    assert len(cache) == 0
    assert seen == [("set", "BTC", "1"), ("expire", "BTC", "1")]


def test_a_failing_callback_is_logged_and_the_cache_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    cache, _ = make()
    later: list[str] = []

    def boom(key: str, value: str) -> None:
        raise RuntimeError("boom")

    cache.register_callback("set", boom)
    cache.register_callback("set", lambda key, value: later.append(key))
    with caplog.at_level(logging.ERROR):
        cache.set("BTC", "1")
    assert cache.get("BTC") == "1"
    assert later == ["BTC"]
    assert "cache set callback" in caplog.text


def test_a_callback_may_use_the_cache_without_deadlocking() -> None:
    cache, _ = make()
    cache.register_callback("set", lambda key, value: cache.get(key))
    cache.set("BTC", "1")
    assert cache.stats().hits == 1


def test_unknown_callback_events_are_refused() -> None:
    cache, _ = make()
    with pytest.raises(ValueError, match="unknown cache event 'update'"):
        cache.register_callback("update", lambda key, value: None)


def test_invalidate_and_clear_forget_without_counting_evictions() -> None:
    cache, _ = make()
    cache.set("BTC", "1")
    cache.set("ETH", "1")
    assert cache.invalidate("BTC") is True
    assert cache.invalidate("BTC") is False
    cache.clear()
    stats = cache.stats()
    assert (stats.size, stats.evictions, stats.expirations) == (0, 0, 0)


@pytest.mark.parametrize(("ttl", "max_entries"), [(0, 10), (-1, 10), (10, 0)])
def test_nonsense_bounds_are_refused(ttl: float, max_entries: int) -> None:
    with pytest.raises(ValueError):
        BalanceCache(ttl=ttl, max_entries=max_entries, clock=FrozenClock())


def test_threads_share_the_cache_without_losing_counts() -> None:
    cache, _ = make(max_entries=8)
    start = threading.Barrier(4)

    def work(n: int) -> None:
        start.wait()
        for i in range(500):
            cache.set(f"{n}-{i % 20}", str(i))
            cache.get(f"{(n + 1) % 4}-{i % 20}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = cache.stats()
    assert stats.size == 8
    assert stats.hits + stats.misses == 2000
    assert stats.evictions == 2000 - 8


operation = st.one_of(
    st.tuples(st.just("set"), st.sampled_from("ABCDEFGH")),
    st.tuples(st.just("get"), st.sampled_from("ABCDEFGH")),
    st.tuples(st.just("wait"), st.integers(min_value=0, max_value=40)),
)


@given(st.lists(operation, max_size=80), st.integers(min_value=1, max_value=5))
def test_never_over_its_bound_and_never_serves_an_expired_value(ops: list[tuple[str, object]], bound: int) -> None:
    cache, clock = make(ttl=30, max_entries=bound)
    set_at: dict[str, float] = {}
    for kind, arg in ops:
        if kind == "wait":
            assert isinstance(arg, int)
            clock.advance(arg)
            continue
        assert isinstance(arg, str)
        if kind == "set":
            # The value records when it was set, so a stale one is recognisable when served.
            cache.set(arg, str(clock.monotonic()))
            set_at[arg] = clock.monotonic()
        else:
            value = cache.get(arg)
            if value is not None:
                assert value == str(set_at[arg])
                assert clock.monotonic() - set_at[arg] < 30
        assert cache.stats().size <= bound
