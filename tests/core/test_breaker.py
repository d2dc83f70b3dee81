import asyncio
import logging

import pytest

from balance_tui.core.breaker import BreakerOpen, BreakerState, CircuitBreaker
from tests.conftest import FrozenClock

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class Upstream:
    """A fake exchange call that counts how often it is really made."""

    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if not self.healthy:
            raise ConnectionError("down")
        return "ok"


def make(**kwargs: object) -> tuple[CircuitBreaker, FrozenClock]:
    clock = FrozenClock()
    return CircuitBreaker(clock=clock, **kwargs), clock  # type: ignore[arg-type]


async def outcome(breaker: CircuitBreaker, upstream: Upstream) -> str:
    try:
        return await breaker.call(upstream)
    except BreakerOpen:
        return "short-circuit"
    except ConnectionError:
        return "failed"


async def tripped(upstream: Upstream | None = None, **kwargs: object) -> tuple[CircuitBreaker, FrozenClock]:
    """A breaker just opened by five consecutive failures."""
    breaker, clock = make(**kwargs)
    upstream = upstream or Upstream(healthy=False)
    for _ in range(5):
        await outcome(breaker, upstream)
    assert breaker.state is OPEN
    return breaker, clock


async def test_a_closed_breaker_passes_calls_through() -> None:
    breaker, _ = make()
    assert await breaker.call(Upstream()) == "ok"
    assert breaker.state is CLOSED


async def test_five_consecutive_failures_open_it_and_the_rest_are_not_made() -> None:
    breaker, _ = make()
    upstream = Upstream(healthy=False)
    results = [await outcome(breaker, upstream) for _ in range(100)]
    assert upstream.calls == 5
    assert results.count("short-circuit") == 95


async def test_a_success_resets_the_failure_count() -> None:
    breaker, _ = make()
    down, up = Upstream(healthy=False), Upstream()
    for _ in range(4):
        await outcome(breaker, down)
    await outcome(breaker, up)
    for _ in range(4):
        await outcome(breaker, down)
    assert (breaker.state, breaker.consecutive_failures) == (CLOSED, 4)


async def test_still_open_at_29_9_s_and_probing_at_30_s() -> None:
    upstream = Upstream(healthy=False)
    breaker, clock = await tripped(upstream)
    clock.advance(10)
    with pytest.raises(BreakerOpen, match=r"retry in 20\.0 s") as rejected:
        await breaker.call(upstream)
    assert rejected.value.retry_in == 20.0
    clock.advance(19.9)
    assert await outcome(breaker, upstream) == "short-circuit"
    clock.advance(0.1)
    upstream.healthy = True
    assert await outcome(breaker, upstream) == "ok"
    assert upstream.calls == 6
    assert breaker.state is CLOSED


@pytest.mark.parametrize("probes", [1, 3])
async def test_only_n_probes_among_ten_concurrent_callers(probes: int) -> None:
    breaker, clock = await tripped(half_open_probes=probes)
    clock.advance(30)
    release = asyncio.Event()
    made = 0

    async def slow() -> str:
        nonlocal made
        made += 1
        await release.wait()
        return "ok"

    async def caller() -> str:
        try:
            return await breaker.call(slow)
        except BreakerOpen:
            return "short-circuit"

    tasks = [asyncio.create_task(caller()) for _ in range(10)]
    await asyncio.sleep(0)  # let every caller reach the breaker
    assert made == probes
    assert breaker.state is HALF_OPEN
    release.set()
    results = await asyncio.gather(*tasks)
    assert (results.count("ok"), results.count("short-circuit")) == (probes, 10 - probes)
    assert breaker.state is CLOSED


async def test_a_failed_probe_doubles_the_open_time_up_to_the_cap() -> None:
    upstream = Upstream(healthy=False)
    breaker, clock = await tripped(upstream)
    for open_for in (60, 120, 240, 300, 300):
        clock.advance(breaker.retry_in)
        assert await outcome(breaker, upstream) == "failed"  # the probe
        assert (breaker.state, breaker.retry_in, breaker.open_for) == (OPEN, open_for, open_for)
    clock.advance(299.9)
    assert await outcome(breaker, upstream) == "short-circuit"


async def test_a_successful_probe_closes_and_resets_the_open_time() -> None:
    upstream = Upstream(healthy=False)
    breaker, clock = await tripped(upstream)
    clock.advance(30)
    await outcome(breaker, upstream)  # failed probe: 60 s
    clock.advance(60)
    upstream.healthy = True
    await outcome(breaker, upstream)
    assert (breaker.state, breaker.open_for, breaker.consecutive_failures) == (CLOSED, 30, 0)
    upstream.healthy = False
    for _ in range(5):
        await outcome(breaker, upstream)
    assert breaker.retry_in == 30


async def test_a_cancelled_probe_does_not_wedge_half_open() -> None:
    breaker, clock = await tripped()
    clock.advance(30)
    hang = asyncio.Event()

    async def stuck() -> str:
        await hang.wait()
        return "never"

    probe = asyncio.create_task(breaker.call(stuck))
    await asyncio.sleep(0)
    assert await outcome(breaker, Upstream()) == "short-circuit"  # the slot is taken
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert breaker.state is HALF_OPEN
    upstream = Upstream()
    assert await outcome(breaker, upstream) == "ok"
    assert (upstream.calls, breaker.state) == (1, CLOSED)


async def test_exceptions_that_are_not_failures_count_neither_way() -> None:
    breaker, _ = make(is_failure=lambda exc: not isinstance(exc, PermissionError))

    async def bad_key() -> str:
        raise PermissionError("EAPI:Invalid key")

    for _ in range(10):
        with pytest.raises(PermissionError):
            await breaker.call(bad_key)
    assert (breaker.state, breaker.consecutive_failures) == (CLOSED, 0)
    await outcome(breaker, Upstream(healthy=False))
    assert breaker.consecutive_failures == 1


async def test_a_probe_that_is_not_a_failure_gives_its_slot_back() -> None:
    breaker, clock = await tripped(is_failure=lambda exc: not isinstance(exc, PermissionError))
    clock.advance(30)

    async def bad_key() -> str:
        raise PermissionError("EAPI:Invalid key")

    with pytest.raises(PermissionError):
        await breaker.call(bad_key)
    assert (breaker.state, breaker.open_for) == (HALF_OPEN, 30)
    assert await outcome(breaker, Upstream()) == "ok"


async def test_trip_opens_for_at_least_the_given_time() -> None:
    breaker, clock = make()
    upstream = Upstream()
    breaker.trip(60)  # EAPI:Rate limit exceeded
    assert breaker.state is OPEN
    clock.advance(59.9)
    assert await outcome(breaker, upstream) == "short-circuit"
    clock.advance(0.1)
    assert await outcome(breaker, upstream) == "ok"
    assert upstream.calls == 1


async def test_trip_keeps_a_longer_opening_and_extends_a_shorter_one() -> None:
    breaker, clock = make()
    breaker.trip(120)
    breaker.trip(60)
    assert breaker.retry_in == 120
    clock.advance(100)
    breaker.trip(60)
    assert breaker.retry_in == 60
    assert breaker.open_for == 30  # the probe backoff is untouched


async def test_an_outcome_from_before_a_trip_does_not_close_it() -> None:
    breaker, _ = make()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "ok"

    call = asyncio.create_task(breaker.call(slow))
    await asyncio.sleep(0)
    breaker.trip(60)
    release.set()
    assert await call == "ok"
    assert breaker.state is OPEN


async def test_state_changes_are_reported_and_a_failing_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    breaker, clock = make(failure_threshold=1)
    changes: list[tuple[BreakerState, BreakerState]] = []

    def boom(old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("boom")

    breaker.register_callback("state_change", boom)
    breaker.register_callback("state_change", lambda old, new: changes.append((old, new)))
    with caplog.at_level(logging.ERROR):
        await outcome(breaker, Upstream(healthy=False))
        clock.advance(30)
        await outcome(breaker, Upstream())
    assert changes == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    assert "state callback" in caplog.text
    with pytest.raises(ValueError, match="unknown breaker event"):
        breaker.register_callback("opened", boom)


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_threshold": 0}, {"half_open_probes": 0}, {"recovery_timeout": 0}, {"recovery_timeout": 400}],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]
