"""Valuing the account on the real simulator over loopback: the ticker follows the assets the account holds."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from balance_tui.core.health import FeedState
from balance_tui.kraken.credentials import Credentials
from balance_tui.sim import Simulator
from balance_tui.sim.assets import PAIRS
from balance_tui.tui.main_screen import total_line
from balance_tui.view import View
from tests.integration.conftest import eventually, running


@pytest.mark.parametrize(("asset", "held"), [("LINK", False), ("LTC", True)], ids=["never-held", "held-at-zero"])
async def test_an_asset_first_held_while_running_is_priced_and_counted(make_config, asset: str, held: bool) -> None:
    async with running(make_config(sim={"seed": 11})) as backend:
        sim, prices, manager = backend.simulator, backend.prices, backend.manager
        assert sim is not None
        assert (asset in sim.account.totals()) is held
        if held:
            # All of it, before the feed's first snapshot: the feed starts at this test's first suspension, and
            # the simulator's scripted calls never suspend. The still simulator keeps it at zero meanwhile.
            await sim.withdraw(asset, sim.account.available(asset))
        await eventually(lambda: backend.ticker is not None and backend.ticker.health.state is FeedState.LIVE)
        ticker, symbol = backend.ticker, f"{asset}/USD"
        await eventually(
            lambda: ticker.settled and ticker.health.subscribed <= prices.symbols, what="every subscription priced"
        )
        assert (asset in manager.get_all_balances()) is held  # the first snapshot lists an emptied wallet only
        assert symbol not in ticker.health.subscribed and prices.price(symbol) is None
        total_before, missing = prices.total_value(manager.get_all_balances())
        assert asset not in missing

        await sim.deposit(asset, D("2.5"))
        await eventually(lambda: prices.price(symbol) is not None, timeout=5, what=f"a {symbol} price")

        price = sim.account.market.price(PAIRS[symbol])
        assert prices.price(symbol) == price
        assert prices.total_value(manager.get_all_balances()) == (total_before + D("2.5") * price, missing)
        assert symbol in ticker.health.subscribed and ticker.health.reconnects == 0  # on the live connection


async def test_the_demo_values_every_asset_it_holds_through_its_own_usd_pair(make_config) -> None:
    async with running(make_config(sim={"seed": 5})) as backend:
        sim, prices, manager = backend.simulator, backend.prices, backend.manager
        assert sim is not None
        held = sorted(asset for asset, total in sim.account.totals().items() if total and asset != "USD")
        assert {"ADA", "USDC", "XRP"} <= set(held)
        await manager.wait_for_snapshot()
        await eventually(
            lambda: all(prices.price(f"{asset}/USD") is not None for asset in held), timeout=10, what="every price"
        )
        for asset in held:  # the direct pair's price itself, not a product of two through a bridge
            assert prices.rate(asset) == sim.account.market.price(PAIRS[f"{asset}/USD"]), asset
        assert prices.total_value(manager.get_all_balances())[1] == ()  # nothing left out of the total


async def test_prices_come_from_rest_once_the_ticker_feed_fails_for_good(make_config) -> None:
    """The public WebSocket endpoint refuses the handshake (HTTP 403: nothing to retry): valuations must not go
    blank for the rest of the run. REST `Ticker` feeds the price book, through the REST client, and says so."""
    async with Simulator(seed=5, updates_per_second=0) as exchange:
        nowhere = exchange.rest_url.replace("http://", "ws://") + "/no-ticker-here"
        config = make_config(
            exchange={
                "name": "kraken",
                "rest_url": exchange.rest_url,
                "ws_private_url": exchange.ws_private_url,
                "ws_public_url": nowhere,
            }
        )
        async with running(config, Credentials.of(exchange.api_key, exchange.api_secret)) as backend:
            prices, manager = backend.prices, backend.manager
            await eventually(lambda: backend.rest_prices is not None, what="the ticker feed to fail for good")
            assert backend.ticker is not None and backend.ticker.health.state is FeedState.FAILED
            assert "HTTP 403" in backend.ticker.health.error
            rest = backend.rest_prices
            await eventually(lambda: rest.polled_at is not None, what="prices over REST")
            held = sorted(asset for asset, total in exchange.account.totals().items() if total and asset != "USD")
            for asset in held:
                assert prices.rate(asset) == exchange.account.market.price(PAIRS[f"{asset}/USD"]), asset
            assert prices.total_value(manager.get_all_balances())[1] == ()  # nothing left out of the total
            line = total_line(View.read(backend, None))
            assert line.startswith("total value ") and "  · prices from REST (ticker feed failed: " in line

            before = prices.rate("BTC")
            await exchange.step()  # the market moves; the next poll (every 30 s, here at once) follows it
            calls = backend.rest.calls
            await rest.poll()
            assert backend.rest.calls == calls + 1  # one Ticker call through the REST client: AssetPairs was once
            assert before != prices.rate("BTC") == exchange.account.market.price(PAIRS["BTC/USD"])
