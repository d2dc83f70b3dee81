"""The real Kraken client against the real simulator over loopback: no mocks of our network code."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from itertools import pairwise

import pytest

from balance_tui.backend import Backend
from balance_tui.core import FeedState
from balance_tui.core.events import Source
from tests.integration.conftest import eventually, running


@pytest.fixture
async def backend(make_config) -> AsyncIterator[Backend]:
    async with running(make_config(sim={"seed": 11})) as backend:
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        yield backend


def totals(backend: Backend) -> dict:
    return {asset: b.total for asset, b in backend.manager.get_all_balances().items()}


async def test_snapshot_then_1000_updates_match_the_simulator_exactly(backend: Backend) -> None:
    sim = backend.simulator
    assert sim is not None
    assert totals(backend) == sim.account.totals()
    while sim.updates_sent < 1000:
        await sim.step()
    health = backend.manager.health
    await eventually(lambda: health.sequence == 1 + sim.updates_sent, what="the last update to arrive")
    assert totals(backend) == sim.account.totals()
    assert (health.gaps, health.reconnects, health.state) == (0, 0, FeedState.LIVE)
    # Contiguous: the stream resyncs (and counts a gap) on any skipped sequence number.
    assert health.messages >= 1 + sim.updates_sent


async def test_held_comes_from_open_orders_and_agrees_with_balance_ex(backend: Backend) -> None:
    sim, manager = backend.simulator, backend.manager
    assert sim is not None
    for _ in range(300):  # orders are placed, filled and cancelled as the account trades
        await sim.step()
    expected = {asset: amount for asset, amount in sim.account.holds().items() if amount}

    def held() -> dict:
        return {asset: b.held for asset, b in manager.get_all_balances().items() if b.held}

    await eventually(lambda: held() == expected, what="holds to follow the open orders")
    assert manager.holds_source is Source.WS and len(manager.orders) == len(sim.account.open_orders)
    assert manager.hold_check is not None and manager.hold_check.mismatches == ()
    for balance in manager.get_all_balances().values():
        assert balance.free == balance.spot - balance.held
    calls = backend.rest.calls
    assert (await manager.refresh_all_balances()).refreshed  # a REST read now only cross-checks the orders
    assert manager.holds_source is Source.WS and manager.hold_check.mismatches == ()
    assert backend.rest.calls == calls + 1


async def test_a_dropped_connection_resyncs_from_a_fresh_snapshot(backend: Backend) -> None:
    sim = backend.simulator
    assert sim is not None
    seen = totals(backend)
    await sim.drop_clients()
    for _ in range(20):  # the account moves while the client is away
        await sim.step()
    moved = {asset for asset, total in sim.account.totals().items() if seen.get(asset) != total}
    health = backend.manager.health
    await eventually(lambda: health.reconnects == 1 and health.state is FeedState.LIVE, what="a reconnect")
    assert totals(backend) == sim.account.totals()
    assert moved and {c.asset for c in health.blind_changes} == moved
    assert all(c.before == seen.get(c.asset) and c.after == sim.account.totals()[c.asset] for c in health.blind_changes)


async def test_balance_ex_as_a_rest_snapshot_matches_the_stream(backend: Backend) -> None:
    sim = backend.simulator
    assert sim is not None
    reply = await backend.rest.fetch_balances()
    assert {a.asset: a.balance for a in reply.balances.assets} == sim.account.totals()
    dot = next(a for a in reply.balances.assets if a.asset == "DOT")
    assert {w.type for w in dot.wallets} == {"spot", "earn"}
    assert reply.balances.source == "rest"


async def test_the_feed_pings_at_its_interval_and_the_pongs_disturb_nothing(make_config) -> None:
    interval = 0.25
    async with running(make_config(sim={"seed": 11})) as backend:
        sim, health = backend.simulator, backend.manager.health
        assert sim is not None
        backend.stream.ping_interval_s = interval  # before the first await: from the feed's first connection on
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        # The ticker pings once as it connects (then every 30 s): let that one pass, so every ping counted
        # below is the balances feed's.
        await eventually(
            lambda: backend.ticker is not None and backend.ticker.health.ping_rtt is not None, what="the ticker's ping"
        )
        before = sim.requests["ping"]
        pings: list[float] = []  # when the simulator had each
        async with asyncio.timeout(10):
            while len(pings) < 5:
                await sim.step()  # frames far more often than the interval: pings must follow it, not them
                await asyncio.sleep(0.02)
                pings += [time.monotonic()] * (sim.requests["ping"] - before - len(pings))
        await eventually(lambda: health.sequence == 1 + sim.updates_sent, what="the last update to arrive")
        assert totals(backend) == sim.account.totals()
        assert (health.gaps, health.reconnects, health.state) == (0, 0, FeedState.LIVE)
    gaps = [later - earlier for earlier, later in pairwise(pings)]
    # Never sooner than the interval; as a rule the next frame after it (a loaded machine may delay one).
    assert min(gaps) >= interval - 0.05 and statistics.median(gaps) < 1.5 * interval, gaps
