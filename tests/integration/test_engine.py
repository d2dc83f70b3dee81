"""The engine as a bot uses it, on the real simulator over loopback: sources, REST discipline, guard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from balance_tui.backend import Backend, open_backend
from balance_tui.core.events import Source
from balance_tui.core.health import FeedState
from balance_tui.sim.assets import PAIRS
from tests.integration.conftest import eventually, running


@pytest.fixture
async def backend(make_config) -> AsyncIterator[Backend]:
    async with running(make_config(sim={"seed": 11}, engine={"fallback_poll_s": 1.0})) as backend:
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        yield backend


async def test_no_rest_balance_call_while_the_feed_is_healthy(backend: Backend) -> None:
    sim, manager = backend.simulator, backend.manager
    assert sim is not None
    calls_at_connect = backend.rest.calls  # the token and BalanceEx (for holds) of the one connection
    for _ in range(25):  # the supervisor ticks every second meanwhile
        await sim.step()
        await asyncio.sleep(0.1)
    assert backend.rest.calls == calls_at_connect == 2
    status = manager.get_status()
    assert (status.feed_state, status.source, status.tracked_assets) == (
        FeedState.LIVE,
        Source.WS,
        len(sim.account.totals()),
    )
    stats = manager.get_statistics()
    assert (stats.rest_calls, stats.fallbacks, stats.reconnects, stats.gaps) == (2, 0, 0, 0)
    assert stats.messages >= 1 + sim.updates_sent


async def test_a_forced_refresh_reads_rest_and_leaves_live_figures_standing(backend: Backend) -> None:
    manager = backend.manager
    result = await manager.refresh_all_balances()
    assert result.refreshed and backend.rest.calls == 3
    assert manager.get_balance("BTC").source is Source.WS  # the live feed's figures stand
    assert manager.validate_all_balances().is_valid  # WS and REST agree: no source_inconsistency


async def test_can_trade_on_the_live_usd_balance(backend: Backend) -> None:
    manager = backend.manager
    free = manager.get_balance("USD").free
    allowed = await manager.can_trade("USD", Decimal("100"))
    assert allowed.allowed, allowed.reason
    too_much = await manager.can_trade("USD", free)
    assert not too_much.allowed and "80%" in too_much.reason
    too_small = await manager.can_trade("USD", Decimal("6"))  # under the minimum 5 plus the 2.50 buffer
    assert not too_small.allowed and "7.50" in too_small.reason


async def test_history_and_trend_follow_the_feed(backend: Backend) -> None:
    sim, manager = backend.simulator, backend.manager
    assert sim is not None
    await sim.deposit("EUR", Decimal("1000"))
    await eventually(lambda: manager.get_balance("EUR").total == sim.account.totals()["EUR"], what="the deposit")
    history = manager.history.get_asset_history("EUR")
    assert history[-1].kind == "deposit" and history[-1].flow == Decimal("1000")
    assert history[-1].total == sim.account.totals()["EUR"]


async def test_the_engine_carries_the_configured_components(make_config) -> None:
    config = make_config(
        cache={"ttl_s": 123.0, "max_entries": 7},
        history={"max_entries_per_asset": 50},
        validation={"disabled": ["low_balance"]},
    )
    async with open_backend(config) as backend:
        manager = backend.manager
        assert (manager.cache.ttl, manager.cache.stats().max_entries) == (123.0, 7)
        assert manager.history.max_entries_per_asset == 50
        assert manager.validator.config.low_balance.enabled is False
        assert manager.validator.config.precision_overflow.decimals["BTC"] == 10  # from Kraken's Assets


async def test_balances_are_valued_from_the_public_ticker(backend: Backend) -> None:
    sim, prices = backend.simulator, backend.prices
    assert sim is not None
    await eventually(lambda: backend.ticker is not None and prices.price("BTC/USD") is not None, what="prices")
    market = sim.account.market
    btc = backend.manager.get_balance("BTC")
    assert prices.value("BTC", btc.total) == btc.total * market.price(PAIRS["BTC/USD"])
    total, missing = prices.total_value(backend.manager.get_all_balances())
    assert total > 0 and "BTC" not in missing and "USD" not in missing
