"""The feed through every failure Kraken can produce: the real client against the simulator's faults."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from balance_tui.backend import Backend
from balance_tui.core.breaker import BreakerState
from balance_tui.core.budgets import STARTER, RateTier, ReconnectBudget, RestRateCounter
from balance_tui.core.events import BalancesSnapshot, BalancesUpdate, ExecutionsSnapshot, ExecutionsUpdate, Source
from balance_tui.core.health import FeedEvent, FeedEventKind, FeedHealth, FeedState
from balance_tui.kraken.credentials import Credentials
from balance_tui.sim import Faults, Fired, RestFailure, Simulator, SystemStatus
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually, running

SEQUENCED = (BalancesSnapshot, BalancesUpdate, ExecutionsSnapshot, ExecutionsUpdate)
UNLIMITED = RateTier("test", 10**9, 10**9)  # the simulator does not rate-limit; these tests reconnect hundreds of times


def relaxed(**budget: float) -> dict[str, Any]:
    return {
        "reconnect_budget": ReconnectBudget(**{"capacity": 10**6, "refill_seconds": 1e-3, "jitter": 0, **budget}),
        "rest_rate": RestRateCounter(UNLIMITED),
    }


def totals(backend: Backend) -> dict[str, Decimal]:
    """Assets held (an asset that left the snapshot stays on the books at zero)."""
    return {asset: b.total for asset, b in backend.manager.get_all_balances().items() if b.total}


def truth(sim: Simulator) -> dict[str, Decimal]:
    return {asset: total for asset, total in sim.account.totals().items() if total}


def live(backend: Backend) -> Callable[[], bool]:
    return lambda: backend.manager.health.state is FeedState.LIVE


def events_since(health: FeedHealth, mark: int) -> list[FeedEvent]:
    """The feed events recorded after `mark` (an earlier `events.recorded`), oldest first."""
    return list(reversed(health.events.recent()[: health.events.recorded - mark]))


def kinds(events: list[FeedEvent]) -> list[FeedEventKind]:
    return [event.kind for event in events]


@pytest.mark.parametrize("resync", [True, False], ids=["with-resync", "resync-off-must-fail"])
async def test_drop_soak_heals_every_balance(make_config, resync: bool) -> None:
    """10,000 updates, a drop every 50 (clean close and abort by turns), one asset moving only offline."""
    async with running(make_config(sim={"seed": 5}), **relaxed()) as backend:
        sim, manager = backend.simulator, backend.manager
        assert sim is not None
        if not resync:  # the mutation: every snapshot after the first is ignored, the feed's and REST's alike
            apply, seen = manager.apply, []

            def without_resync(event: Any) -> Any:
                if isinstance(event, BalancesSnapshot):
                    seen.append(event)
                    if len(seen) > 1:
                        return []
                return apply(event)

            manager.apply = without_resync  # type: ignore[method-assign]
        sim.faults.drop_every, sim.faults.offline_asset = 50, "LTC"
        await asyncio.wait_for(manager.wait_for_snapshot(), 10)
        while sim.updates_sent < 10_000:
            await sim.step()
            await asyncio.sleep(0)
        sim.faults.drop_every = 0
        await eventually(live(backend), timeout=30, what="the feed to settle")
        fired = sim.faults.fired
        assert fired[Fired.CLOSE] >= 90 and fired[Fired.ABORT] >= 90 and fired[Fired.OFFLINE] >= 90
        if resync:
            await eventually(
                lambda: totals(backend) == truth(sim), timeout=30, what="every balance to equal the exchange's"
            )
        else:
            await asyncio.sleep(0.5)
            ltc = manager.get_balance("LTC")  # LTC may have been withdrawn to zero: compare, do not index
            assert ltc is not None and ltc.total != sim.account.totals().get("LTC", 0)


async def test_an_accept_then_close_server_gets_at_most_eleven_attempts_a_minute(make_config) -> None:
    """The default budget (5 at once, then one per 10 s, jitter 0.5 s) against an exchange that accepts every
    connection and hangs up at once, for ten minutes of the budget's clock: its waits move that clock instead
    of sleeping, so the ten minutes take about a second."""
    clock, exchange = FrozenClock(), []
    waits: list[tuple[int, float]] = []  # per wait: connections the exchange had accepted, when the next is due

    async def wait(seconds: float) -> None:
        waits.append((exchange[0].faults.fired[Fired.HANG_UP], clock.monotonic() + seconds))
        clock.advance(seconds)
        await asyncio.sleep(0)

    budget = ReconnectBudget(rng=random.Random(11), clock=clock, sleep=wait)
    async with running(make_config(), reconnect_budget=budget, rest_rate=RestRateCounter(UNLIMITED)) as backend:
        sim = backend.simulator
        assert sim is not None
        exchange.append(sim)
        sim.faults.hang_up(10**6)  # before the first await: the first connection too
        start = clock.monotonic()
        await eventually(lambda: clock.monotonic() - start >= 600, timeout=60, what="ten minutes of reconnects")
    # Every wait followed one connection the exchange accepted and closed: no attempt escaped the budget.
    assert [accepted for accepted, _ in waits] == list(range(1, len(waits) + 1))
    attempts = [start, *(due for _, due in waits)]
    in_a_minute = [sum(t <= u < t + 60 for u in attempts) for t in attempts if t < start + 540]
    assert max(in_a_minute) <= 11  # the first minute's: the first connection, the burst of 5, then 5 refills
    assert in_a_minute[0] >= 6 and sum(t < start + 600 for t in attempts) <= 1 + 5 + 60


async def test_three_429s_then_the_feed_connects(make_config) -> None:
    async with running(make_config(), **relaxed()) as backend:
        sim = backend.simulator
        assert sim is not None
        sim.faults.refuse_handshakes(3, 429)  # before the first await: the feed has not connected yet
        await eventually(live(backend), what="the fourth attempt to connect")
    health = backend.manager.health
    assert sim.faults.fired[Fired.REFUSE] == 3 and health.reconnects == 3
    K = FeedEventKind
    assert kinds(events_since(health, 0))[:7] == [K.REFUSED, K.RETRY] * 3 + [K.CONNECTED]
    assert {e.text for e in events_since(health, 0) if e.kind is K.REFUSED} == {"HTTP 429"}


async def test_a_drop_and_a_gap_are_feed_events_in_order_and_the_ping_is_timed(make_config) -> None:
    K = FeedEventKind
    async with running(make_config(sim={"seed": 8}), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        # The first frame of a connection sends a ping: its round trip is known from the start.
        await eventually(lambda: health.ping_rtt is not None, what="the first pong")
        assert 0 < health.ping_rtt < 1 and sim.requests["ping"] >= 1
        first = kinds(events_since(health, 0))
        assert first[:3] == [K.CONNECTED, K.TOKEN, K.SYSTEM] and first.count(K.SUBSCRIBED) == 2

        mark = health.events.recorded
        await sim.drop_clients()
        await eventually(lambda: health.reconnects == 1 and health.state is FeedState.LIVE, what="the reconnect")
        await eventually(lambda: K.RESYNCED in kinds(events_since(health, mark)), what="the resync's report")
        dropped = events_since(health, mark)
        assert kinds(dropped)[:4] == [K.CLOSED, K.RETRY, K.CONNECTED, K.TOKEN]
        assert dropped[0].text == "1001: going away" and dropped[1].text.startswith("in 0.0 s, budget ")
        assert dropped[2].text == f"to {sim.ws_private_url}"
        assert health.reconnect_reason == "connection closed (1001: going away)"
        assert health.connected_at == dropped[2].at  # the uptime runs from the connected event

        mark = health.events.recorded
        sim.faults.skip_every = 20
        while not sim.faults.fired[Fired.SKIP]:
            await sim.step()
        sim.faults.skip_every = 0
        await eventually(lambda: health.reconnects == 2 and health.state is FeedState.LIVE, what="the resync")
        gapped = events_since(health, mark)
        at = kinds(gapped).index(K.GAP)
        assert kinds(gapped)[at : at + 3] == [K.GAP, K.RETRY, K.CONNECTED] and health.gaps == 1
        expected, got = map(
            int, re.fullmatch(r"(?:balances|executions): expected (\d+), got (\d+)", gapped[at].text).groups()
        )
        assert got == expected + 1


async def test_while_the_socket_cannot_connect_at_start_rest_shows_the_balances(make_config) -> None:
    async with running(make_config(engine={"fallback_poll_s": 1})) as backend:
        sim, manager = backend.simulator, backend.manager
        assert sim is not None
        sim.faults.refuse_handshakes(1000, 503)  # before the first await: the feed never connects
        totals = sim.account.totals()
        await eventually(
            lambda: {a: b.total for a, b in manager.get_all_balances().items()} == totals, timeout=5, what="REST"
        )
        balances = manager.get_all_balances()
        assert {b.source for b in balances.values()} == {Source.REST}
        assert manager.health.state is FeedState.RECONNECTING and "HTTP 503" in manager.health.error


async def test_a_wrong_key_stops_the_feed_at_once_without_retrying(make_config) -> None:
    async with Simulator(seed=3, updates_per_second=0) as exchange:
        config = make_config(
            exchange={"name": "kraken", "rest_url": exchange.rest_url, "ws_private_url": exchange.ws_private_url}
        )
        wrong = Credentials.of("not-the-key", exchange.api_secret)
        async with running(config, wrong, **relaxed()) as backend:
            health = backend.manager.health
            await eventually(lambda: health.state is FeedState.FAILED, timeout=1.0, what="the failure")
            await asyncio.sleep(0.5)
            assert "EAPI:Invalid key" in health.error and backend.rest.calls == 1 and health.reconnects == 0


async def test_a_fresh_token_refused_twice_stops_the_feed(make_config) -> None:
    async with running(make_config(), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        sim.faults.spoil_tokens(5)  # every token the feed could take
        await eventually(lambda: health.state is FeedState.FAILED, what="the failure")
        await asyncio.sleep(0.5)
    assert "refused a fresh WebSocket token twice (ESession:Invalid session)" in health.error
    assert sim.faults.fired[Fired.SPOIL_TOKEN] == 2 and health.reconnects == 1  # two connections, one token each


async def test_a_refused_token_is_retried_once_after_every_subscription(make_config) -> None:
    async with running(make_config(), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        sim.faults.spoil_tokens()
        await eventually(lambda: health.reconnects == 1 and health.state is FeedState.LIVE, what="the retry")
        sim.faults.spoil_tokens()  # a refusal after a good subscription is again the first
        await sim.drop_clients()
        await eventually(lambda: health.reconnects == 3 and health.state is FeedState.LIVE, what="the second retry")
    assert sim.faults.fired[Fired.SPOIL_TOKEN] == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_a_handshake_refused_as_unauthorised_is_not_retried(make_config, status: int) -> None:
    async with running(make_config(), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        sim.faults.refuse_handshakes(5, status)
        await eventually(lambda: health.state is FeedState.FAILED, timeout=1.0, what="the failure")
    assert f"HTTP {status}" in health.error and sim.faults.fired[Fired.REFUSE] == 1


async def test_an_oversized_frame_alerts_and_backs_off(make_config) -> None:
    async with running(make_config(), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        sim.faults.oversize_every = 1
        for _ in range(3):
            await sim.step()
        await eventually(lambda: "1009" in health.error, what="the 1009 close")
        assert "waiting 60 s" in health.error and health.retry_at is not None
        waiting = (health.retry_at - backend.manager.clock.now()).total_seconds()
        await asyncio.sleep(1.0)
        assert 58 <= waiting <= 61 and health.reconnects == 1  # one alert, then a minute's wait: no storm


async def test_a_silent_but_pinging_server_is_stale_within_the_watchdog_and_rest_steps_in(make_config) -> None:
    config = make_config(feed={"stale_after_s": 1.0}, engine={"fallback_poll_s": 1.0})
    # Reconnects every 0.5 s against 8 refused handshakes: an outage of about 4 s after the silence.
    async with running(config, **relaxed(capacity=2, refill_seconds=0.5)) as backend:
        sim, manager = backend.simulator, backend.manager
        assert sim is not None
        changes: list[Any] = []
        manager.register_callback("source_changed", changes.append)
        await asyncio.wait_for(manager.wait_for_snapshot(), 10)
        await eventually(lambda: manager.source_in_use() is Source.WS, what="the live feed")
        # The ticker feed connects too: let it finish, so the refusals below all meet the balances feed.
        await eventually(
            lambda: backend.ticker is not None and backend.ticker.health.state is FeedState.LIVE, what="prices"
        )
        sim.faults.refuse_handshakes(8, 503)
        sim.faults.silence_every = 1  # the connection falls silent at its next data frame, pings still answered
        await sim.step()
        went_quiet = time.monotonic()
        await eventually(lambda: manager.get_status().feed_state is FeedState.STALE, timeout=5, what="STALE")
        assert manager.health.reconnects == 0  # shown stale while the connection is still open
        await eventually(lambda: manager.health.reconnects >= 1, timeout=5, what="the watchdog")
        assert time.monotonic() - went_quiet < 3.5  # twice stale_after_s of 1 s, plus loop slack
        sim.faults.silence_every = 0
        stale = [e for e in manager.health.events.recent() if e.kind is FeedEventKind.STALE]
        assert [e.text for e in stale] == ["no data or heartbeat for 2 s"]
        await eventually(lambda: manager.source_in_use() is Source.REST, timeout=5, what="the REST fallback")
        assert manager.get_balance("BTC").source is Source.REST and manager.get_statistics().fallbacks == 1
        await eventually(lambda: manager.source_in_use() is Source.WS, timeout=10, what="the feed to come back")
    afters = [change.after for change in changes]
    assert Source.REST in afters and afters[-1] is Source.WS
    assert afters.index(Source.REST) < len(afters) - 1


async def test_a_feed_that_answers_pings_but_says_nothing_is_given_up_after_twice_stale_after_s(
    make_config, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection stays open and answers WebSocket pings (tests/sim shows it); only its silence gives it away.
    It shows STALE after stale_after_s and is given up after twice that, so the operator sees it stale first."""
    caplog.set_level(logging.WARNING, "balance_tui.kraken.connection")
    async with running(make_config(feed={"stale_after_s": 1.0}), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        await eventually(live(backend), what="the live feed")
        sim.faults.silence_every = 1
        await sim.step()  # the next data frame on each connection is its last: no data, no heartbeat from then on
        went_quiet = time.time()
        await eventually(lambda: health.reconnects >= 1, timeout=5, what="the watchdog")
        sim.faults.silence_every = 0
        await eventually(live(backend), what="the feed to come back")
    given_up = next(
        r.created for r in caplog.records if "balances feed interrupted: no data or heartbeat for 2 s" in r.message
    )
    assert 2.0 <= given_up - went_quiet < 3.0  # twice stale_after_s, plus loop slack; never before
    assert sim.faults.fired[Fired.SILENCE] >= 1 and health.error == ""


async def test_a_repeated_or_backwards_sequence_number_is_never_applied(make_config, caplog) -> None:
    """Updates sent twice, and the frame before an update sent again (an old update, or the snapshot itself):
    each is caught before the engine sees it, and the feed resyncs from a fresh snapshot."""
    caplog.set_level(logging.WARNING, "balance_tui.kraken.connection")
    async with running(make_config(sim={"seed": 8}), **relaxed()) as backend:
        sim, manager = backend.simulator, backend.manager
        assert sim is not None
        applied: list[tuple[int, str, int]] = []  # what reached the engine from the feed: connection, kind, sequence
        apply = manager.apply

        def recording(event: Any) -> Any:
            if isinstance(event, SEQUENCED) and getattr(event, "source", Source.WS) is Source.WS:
                kind = "balances" if isinstance(event, BalancesSnapshot | BalancesUpdate) else "executions"
                applied.append((manager.health.reconnects, kind, event.sequence))
            return apply(event)

        manager.apply = recording  # type: ignore[method-assign]
        await asyncio.wait_for(manager.wait_for_snapshot(), 10)

        def reasons() -> list[str]:
            return [r.message for r in caplog.records if "feed interrupted" in r.message]

        def caught(what: str) -> bool:
            return any(f": {what} sequence went backwards: expected" in reason for reason in reasons())

        # Each connection meets one replay: its first update's, an update or a snapshot again, by turns and by
        # which channel moves first. Go on until each kind has been met.
        sim.faults.replay_every, kinds = 1, ("balances", "balances snapshot", "executions snapshot")
        deadline = time.monotonic() + 20
        while not all(caught(what) for what in kinds):
            assert time.monotonic() < deadline, reasons()
            await sim.step()
            await asyncio.sleep(0.01)
        sim.faults.replay_every = 0
        await eventually(live(backend), what="the feed to settle")
        await eventually(lambda: totals(backend) == truth(sim), what="balances to match")
    runs: dict[tuple[int, str], list[int]] = {}
    for connection, kind, sequence in applied:
        runs.setdefault((connection, kind), []).append(sequence)
    assert all(sequences == list(range(1, len(sequences) + 1)) for sequences in runs.values()), runs
    assert sim.faults.fired[Fired.DUPLICATE] and sim.faults.fired[Fired.REWIND]
    assert backend.manager.health.gaps == len(reasons())


async def test_a_snapshot_over_1_mib_is_refused_with_the_reason_and_rest_shows_every_asset(make_config) -> None:
    """9,000 dormant assets make the balances snapshot 1.1 MiB, over the 1 MiB frame limit: the feed says so
    and waits a minute before trying again, while REST (which has no such limit) shows every balance."""
    async with Simulator(seed=3, updates_per_second=0, faults=Faults(many_assets=9000)) as exchange:
        urls = {"rest_url": exchange.rest_url, "ws_private_url": exchange.ws_private_url}
        config = make_config(
            exchange={"name": "kraken", **urls, "ws_public_url": exchange.ws_public_url},
            engine={"fallback_poll_s": 1.0},
        )
        credentials = Credentials.of(exchange.api_key, exchange.api_secret)
        async with running(config, credentials, **relaxed()) as backend:
            manager, health = backend.manager, backend.manager.health
            await eventually(lambda: "1009" in health.error, what="the 1009 close")
            assert health.error.startswith("connection closed (1009: ")  # then websockets' words: "frame exceeds..."
            assert health.error.endswith(
                "): a message from the exchange is over this console's 1 MiB limit; waiting 60 s before trying again"
            )
            await eventually(lambda: totals(backend) == truth(exchange), timeout=20, what="REST to show every asset")
            assert len(totals(backend)) > 9000
            assert {b.source for b in manager.get_all_balances().values()} == {Source.REST}
            assert health.reconnects == 1 and not manager.has_snapshot  # one alert, then a minute's wait


async def test_the_token_endpoint_failing_leaves_the_live_feed_alone_and_reconnects_within_budget(
    make_config,
) -> None:
    """The token is needed only to subscribe: a live feed never asks for one. The next connection does, and meets
    the failure: shown in health, retried once per reconnect within the budget, while REST polling goes on
    showing the balances with the breaker closed. Kraken Starter's counter, the default reconnect budget and
    the default fallback poll, all time-scaled 1/5: eight failures take the burst of five and three refills."""
    scale = 5
    starter = RateTier("starter/5", STARTER.max_counter, STARTER.decay_per_second * scale)
    options = {
        "reconnect_budget": ReconnectBudget(refill_seconds=10 / scale, jitter=0.5 / scale),
        "rest_rate": RestRateCounter(starter),
    }
    async with running(make_config(sim={"seed": 4}, engine={"fallback_poll_s": 5 / scale}), **options) as backend:
        sim, manager, health = backend.simulator, backend.manager, backend.manager.health
        assert sim is not None
        await eventually(live(backend), what="the live feed")
        sim.faults.fail_tokens(RestFailure.HTTP_503, 8)
        for _ in range(100):
            await sim.step()
            await asyncio.sleep(0)
        await eventually(lambda: totals(backend) == truth(sim), what="the live feed to carry on")
        # Not one token call: the first would have met a failure (and counted it).
        assert health.state is FeedState.LIVE and health.reconnects == 0 and not sim.faults.fired

        await sim.drop_clients()
        await eventually(lambda: manager.source_in_use() is Source.REST, what="the REST fallback")
        sources, errors, breaker = set(), set(), backend.rest.breaker
        while health.state is not FeedState.LIVE:
            assert breaker.state is BreakerState.CLOSED, health.error
            sources.add(manager.source_in_use())
            errors.add(health.error)
            await sim.step()
            await asyncio.sleep(0.05)
        await eventually(lambda: totals(backend) == truth(sim), what="balances to match")
    assert sources == {Source.REST}  # never blind: polling was never starved of the rate budget or paused
    failed = "GetWebSocketsToken: HTTP 503, reply is not JSON"
    assert failed in errors and errors <= {failed, "connection closed (1001: going away)"}, errors
    # One token call per reconnect: the drop, then each failure, then the one that worked.
    assert sim.faults.fired[RestFailure.HTTP_503] == 8 and health.reconnects == 1 + 8


async def test_a_sequence_gap_causes_exactly_one_resync(make_config) -> None:
    async with running(make_config(sim={"seed": 8}), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        sim.faults.skip_every = 20
        while not sim.faults.fired[Fired.SKIP]:
            await sim.step()
        sim.faults.skip_every = 0
        await eventually(lambda: health.reconnects == 1 and health.state is FeedState.LIVE, what="the resync")
        await eventually(lambda: totals(backend) == truth(sim), what="balances to match")
        assert health.gaps == 1


async def test_maintenance_is_shown_and_slows_reconnects(make_config) -> None:
    async with running(make_config(), **relaxed()) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        sim.faults.set_system_status(SystemStatus.MAINTENANCE)
        await eventually(lambda: health.system == "maintenance", what="the status frame")
        assert health.events.recent()[0].kind is FeedEventKind.SYSTEM
        assert health.events.recent()[0].text == "online -> maintenance"
        await sim.drop_clients()
        await eventually(lambda: health.retry_at is not None, what="the reconnect wait")
        waiting = (health.retry_at - backend.manager.clock.now()).total_seconds()
        assert 4.5 <= waiting <= 5.5
