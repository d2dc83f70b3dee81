import random

import pytest

from balance_tui.core.budgets import INTERMEDIATE, PRO, RATE_TIERS, STARTER, ReconnectBudget, RestRateCounter
from tests.conftest import FrozenClock


def counter_for(tier=STARTER, headroom: float = 3) -> tuple[RestRateCounter, FrozenClock]:  # type: ignore[no-untyped-def]
    clock = FrozenClock()
    return RestRateCounter(tier, headroom=headroom, clock=clock), clock


def test_kraken_tiers() -> None:
    assert {name: (t.max_counter, t.decay_per_second) for name, t in RATE_TIERS.items()} == {
        "starter": (15, 0.33),
        "intermediate": (20, 0.5),
        "pro": (20, 1),
    }


@pytest.mark.parametrize(
    ("method", "cost"),
    [("Ledgers", 2), ("QueryLedgers", 2), ("TradesHistory", 2), ("QueryTrades", 2), ("BalanceEx", 1), ("Balance", 1)],
)
def test_ledger_and_trade_history_calls_cost_two(method: str, cost: int) -> None:
    assert RestRateCounter.cost(method) == cost


def test_calls_are_allowed_up_to_the_limit_less_headroom() -> None:
    counter, _ = counter_for()  # Starter: 15 - 3 = 12
    for _ in range(12):
        assert counter.can_call("BalanceEx")
        counter.record("BalanceEx")
    assert counter.counter == 12
    assert not counter.can_call("BalanceEx")


def test_wait_time_is_the_decay_needed_for_the_cost() -> None:
    counter, clock = counter_for()
    for _ in range(12):
        counter.record("Balance")
    assert counter.wait_time("Balance") == pytest.approx(1 / 0.33)  # 3.03 s
    assert counter.wait_time("Ledgers") == pytest.approx(2 / 0.33)  # 6.06 s
    clock.advance(3.0)
    assert not counter.can_call("Balance")
    clock.advance(0.04)
    assert counter.can_call("Balance")
    assert not counter.can_call("Ledgers")


def test_the_counter_decays_to_zero_and_no_further() -> None:
    counter, clock = counter_for()
    counter.record("Ledgers")
    counter.record("Balance")
    clock.advance(5)
    assert counter.counter == pytest.approx(3 - 5 * 0.33)  # 1.35
    clock.advance(100)
    assert counter.counter == 0


def test_faster_tiers_decay_faster() -> None:
    pro, clock = counter_for(PRO)
    intermediate = RestRateCounter(INTERMEDIATE, headroom=3, clock=clock)
    for _ in range(17):
        pro.record("Balance")
        intermediate.record("Balance")
    clock.advance(4)
    assert (pro.counter, intermediate.counter) == (13, 15)


def test_a_rate_limit_error_fills_the_model() -> None:
    counter, _ = counter_for()
    counter.record("Balance")
    counter.mark_exhausted()
    assert counter.counter == 15
    assert counter.wait_time("Balance") == pytest.approx(4 / 0.33)  # 15 + 1 - 12 = 4 to decay


@pytest.mark.parametrize("headroom", [-1, 13.5])
def test_headroom_must_leave_room_for_a_call(headroom: float) -> None:
    with pytest.raises(ValueError, match="leaves no room"):
        RestRateCounter(STARTER, headroom=headroom, clock=FrozenClock())


def test_a_greedy_caller_stays_under_krakens_limit_for_ten_minutes() -> None:
    counter, clock = counter_for()
    end, calls = clock.monotonic() + 599, 0
    while True:
        clock.advance(counter.wait_time("BalanceEx"))
        if clock.monotonic() > end:
            break
        assert counter.can_call("BalanceEx")  # waiting as told is always enough
        counter.record("BalanceEx")
        calls += 1
        assert counter.counter <= 12 + 1e-9
    # 12 at once, then one per 1 / 0.33 s: 597 s / 3.0303 s = 197 more by t = 599 s.
    assert calls == 12 + 197


def make_budget(jitter: float = 0.0, seed: int = 1) -> tuple[ReconnectBudget, FrozenClock]:
    clock = FrozenClock()
    return ReconnectBudget(jitter=jitter, rng=random.Random(seed), clock=clock), clock


def test_five_attempts_at_once_then_one_every_ten_seconds() -> None:
    budget, clock = make_budget()
    assert [budget.reserve() for _ in range(6)] == [0] * 5 + [10]
    clock.advance(10)  # the sixth attempt, as reserved
    assert budget.reserve() == pytest.approx(10)


def test_a_storm_without_jitter_makes_exactly_eleven_attempts_in_the_first_minute() -> None:
    budget, clock = make_budget()
    start, attempts = clock.monotonic(), []
    for _ in range(12):
        clock.advance(budget.reserve())
        attempts.append(clock.monotonic() - start)
    assert attempts == [0, 0, 0, 0, 0, 10, 20, 30, 40, 50, 60, 70]


def test_the_bucket_refills_to_capacity_and_no_further() -> None:
    budget, clock = make_budget()
    for _ in range(5):
        budget.reserve()
    clock.advance(30)
    assert budget.tokens == pytest.approx(3)
    clock.advance(3600)
    assert budget.tokens == 5


class MaxJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_jitter_spaces_attempts_and_adds_to_the_refill_wait() -> None:
    clock = FrozenClock()
    budget = ReconnectBudget(jitter=0.5, rng=MaxJitter(), clock=clock)
    assert budget.reserve() == 0
    for _ in range(4):
        assert budget.reserve() == 0.5
        clock.advance(0.5)
    clock.advance(0.5)
    # At 2.5 s the bucket holds 5 - 5 + 2.0 / 10 (refilled since the first attempt) = 0.2 tokens:
    # 0.8 more take 8 s from the last attempt at 2.0 s, plus its 0.5 s spacing: due at 10.5 s.
    assert budget.reserve() == pytest.approx(8.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_accept_then_close_server_sees_at_most_eleven_attempts_a_minute(seed: int) -> None:
    budget, clock = make_budget(jitter=0.5, seed=seed)
    start = clock.monotonic()
    attempts: list[float] = []
    while clock.monotonic() - start <= 600:
        clock.advance(budget.reserve())  # the stream waits as told, connects, and is closed at once
        attempts.append(clock.monotonic() - start)
    attempts = [t for t in attempts if t <= 600]
    busiest = max(sum(1 for t in attempts if first <= t <= first + 60) for first in attempts)
    assert busiest <= 11
    assert 60 <= len(attempts) <= 65  # 5 + 600 / 10 at most, and never starved
    assert attempts[5] >= 10


@pytest.mark.parametrize("kwargs", [{"capacity": 0}, {"refill_seconds": 0}, {"jitter": -1}])
def test_nonsense_budgets_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReconnectBudget(**kwargs)  # type: ignore[arg-type]
