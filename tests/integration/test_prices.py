"""Valuing the account on the real simulator over loopback: the ticker follows the assets the account holds."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from balance_tui.core.health import FeedState
from balance_tui.sim import Simulator
from balance_tui.sim.account import WalletKey
from balance_tui.sim.assets import PAIRS
from tests.integration.conftest import eventually, running

LTC_SPOT = WalletKey("LTC", "spot", "main")


def set_ltc_wallet(sim: Simulator, amount: D | None) -> None:
    """The simulator has no hook to start an account without an asset, or to open a wallet for one it does
    not hold: reach into the demo account for it (None: no LTC wallet at all). No order involves LTC, and
    the simulator is still (no steps), so nothing else touches the wallet meanwhile."""
    wallets = sim.account._wallets
    if amount is None:
        del wallets[LTC_SPOT]
    else:
        wallets[LTC_SPOT] = amount


@pytest.mark.parametrize("before", [None, D(0)], ids=["never-held", "held-at-zero"])
async def test_an_asset_first_held_while_running_is_priced_and_counted(make_config, before: D | None) -> None:
    async with running(make_config(sim={"seed": 11})) as backend:
        sim, prices, manager = backend.simulator, backend.prices, backend.manager
        assert sim is not None
        set_ltc_wallet(sim, before)  # before the feed's first snapshot
        await eventually(lambda: backend.ticker is not None and backend.ticker.health.state is FeedState.LIVE)
        ticker = backend.ticker
        await eventually(lambda: ticker.health.subscribed <= prices.symbols, what="every subscribed price")
        assert "LTC/USD" not in ticker.health.subscribed and prices.price("LTC/USD") is None
        total_before, missing = prices.total_value(manager.get_all_balances())
        assert "LTC" not in missing

        set_ltc_wallet(sim, D(0))
        await sim.deposit("LTC", D("2.5"))
        await eventually(lambda: prices.price("LTC/USD") is not None, timeout=5, what="an LTC/USD price")

        price = sim.account.market.price(PAIRS["LTC/USD"])
        assert prices.price("LTC/USD") == price
        assert prices.total_value(manager.get_all_balances()) == (total_before + D("2.5") * price, missing)
        assert "LTC/USD" in ticker.health.subscribed and ticker.health.reconnects == 0  # on the live connection
