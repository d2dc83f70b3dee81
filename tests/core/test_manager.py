import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balance_tui.core import BalanceManager, FeedHealth, FeedState
from balance_tui.core.events import (
    AssetSnapshot,
    BalancesSnapshot,
    BalancesUpdate,
    HoldAmounts,
    HoldsSnapshot,
    LedgerEntry,
    Source,
    WalletBalance,
)
from tests.conftest import FrozenClock

D = Decimal
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def snapshot(sequence: int = 1, **assets: list[tuple[str, str, str]]) -> BalancesSnapshot:
    return BalancesSnapshot(
        tuple(
            AssetSnapshot(
                name, sum((D(b) for _, _, b in wallets), D(0)), tuple(WalletBalance(t, i, D(b)) for t, i, b in wallets)
            )
            for name, wallets in assets.items()
        ),
        sequence,
    )


def entry(asset: str, balance: str, wallet: tuple[str, str] = ("spot", "main"), amount: str = "0") -> LedgerEntry:
    return LedgerEntry("L1", "R1", T0, "trade", asset, wallet[0], wallet[1], D(amount), D(0), D(balance))


def live(manager: BalanceManager) -> BalanceManager:
    """As the stream leaves it while the feed is healthy."""
    manager.health.state, manager.health.last_message_at = FeedState.LIVE, manager.clock.now()
    return manager


def test_snapshot_sets_every_asset_with_source_and_time() -> None:
    manager = live(BalanceManager(FrozenClock(T0)))
    changed = manager.apply(snapshot(BTC=[("spot", "main", "1.5")], USD=[("spot", "main", "100")]))
    assert {b.asset for b in changed} == {"BTC", "USD"}
    btc = manager.get_balance("BTC")
    assert btc is not None
    assert (btc.total, btc.free, btc.source, btc.updated_at) == (D("1.5"), D("1.5"), Source.WS, T0)
    assert manager.has_snapshot


def test_update_sets_the_touched_wallet_from_the_asset_total() -> None:
    manager = BalanceManager(FrozenClock(T0))
    manager.apply(snapshot(DOT=[("spot", "main", "300"), ("earn", "bonded", "200")]))
    manager.apply(BalancesUpdate((entry("DOT", "510", ("earn", "bonded"), amount="10"),), 2))
    dot = manager.get_balance("DOT")
    assert dot is not None
    assert dot.total == D("510")
    assert dict(((w.type, w.id), w.balance) for w in dot.wallets) == {
        ("spot", "main"): D(300),
        ("earn", "bonded"): D(210),
    }
    assert dot.free == D(300)  # earn wallets are not tradable


def test_update_for_a_new_asset_creates_it() -> None:
    manager = BalanceManager(FrozenClock(T0))
    manager.apply(snapshot(USD=[("spot", "main", "1")]))
    manager.apply(BalancesUpdate((entry("SOL", "2.25"),), 2))
    sol = manager.get_balance("SOL")
    assert sol is not None and sol.total == D("2.25") and sol.spot == D("2.25")


def test_holds_reduce_free_and_survive_later_updates() -> None:
    clock = FrozenClock(T0)
    manager = BalanceManager(clock)
    manager.apply(HoldsSnapshot({"BTC": HoldAmounts(hold_trade=D("0.25"))}))
    manager.apply(snapshot(BTC=[("spot", "main", "1")]))
    btc = manager.get_balance("BTC")
    assert btc is not None and (btc.held, btc.free, btc.hold_source) == (D("0.25"), D("0.75"), Source.REST)
    clock.at = T0 + timedelta(seconds=5)
    manager.apply(BalancesUpdate((entry("BTC", "2"),), 2))
    btc = manager.get_balance("BTC")
    assert btc is not None and (btc.held, btc.free) == (D("0.25"), D("1.75"))
    assert manager.holds_at == T0 and manager.holds_source is Source.REST


def test_credit_counts_toward_free() -> None:
    manager = BalanceManager(FrozenClock(T0))
    manager.apply(snapshot(USD=[("spot", "main", "100")]))
    manager.apply(HoldsSnapshot({"USD": HoldAmounts(D("10"), D("50"), D("20"))}))
    usd = manager.get_balance("USD")
    assert usd is not None and usd.free == D("120")  # 100 + 50 - 20 - 10


def test_an_asset_missing_from_a_new_snapshot_drops_to_zero() -> None:
    manager = BalanceManager(FrozenClock(T0))
    manager.apply(snapshot(BTC=[("spot", "main", "1")], ETH=[("spot", "main", "2")]))
    changed = manager.apply(snapshot(2, BTC=[("spot", "main", "1")]))
    assert [b.asset for b in changed] == ["ETH"]
    eth = manager.get_balance("ETH")
    assert eth is not None and eth.total == 0


def test_a_failing_callback_never_stops_the_others() -> None:
    manager = BalanceManager(FrozenClock(T0))
    seen: list[str] = []

    def broken(_balance: object) -> None:
        raise RuntimeError("subscriber bug")

    manager.register_callback("balance_update", broken)
    manager.register_callback("balance_update", lambda b: seen.append(b.asset))
    manager.apply(snapshot(BTC=[("spot", "main", "1")]))
    assert seen == ["BTC"]
    assert manager.get_balance("BTC") is not None


async def test_async_callbacks_run() -> None:
    manager = BalanceManager(FrozenClock(T0))
    seen: list[str] = []

    async def record(balance: object) -> None:
        seen.append(balance.asset)  # type: ignore[attr-defined]

    manager.register_callback("balance_update", record)
    manager.apply(snapshot(BTC=[("spot", "main", "1")]))
    await manager.wait_for_snapshot()
    for _ in range(3):
        await asyncio.sleep(0)
    assert seen == ["BTC"]


def flow(asset: str, kind: str, amount: str, fee: str, balance: str) -> LedgerEntry:
    return LedgerEntry("L", "R", T0, kind, asset, "spot", "main", D(amount), D(fee), D(balance))


async def test_a_burst_is_observed_once_per_asset_at_its_latest_value_and_every_entry_is_told() -> None:
    manager = live(BalanceManager(FrozenClock(T0)))
    updates: list[tuple[str, Decimal]] = []
    entries: list[LedgerEntry] = []
    manager.register_callback("balance_update", lambda b: updates.append((b.asset, b.total)))
    manager.register_callback("ledger_entry", entries.append)
    manager.apply(snapshot(BTC=[("spot", "main", "1")], ETH=[("spot", "main", "2")]))
    await asyncio.sleep(0)
    updates.clear()
    for sequence, total in enumerate(["1.1", "1.2", "1.3"], start=2):  # no yield between: one burst
        manager.apply(BalancesUpdate((entry("BTC", total),), sequence))
    manager.apply(BalancesUpdate((entry("ETH", "2.5"),), 5))
    assert manager.get_balance("BTC").total == D("1.3")  # state is current at once
    assert len(entries) == 4 and updates == []
    await asyncio.sleep(0)
    assert updates == [("BTC", D("1.3")), ("ETH", D("2.5"))]
    assert [e.total for e in manager.history.get_asset_history("BTC")] == [D("1"), D("1.3")]


@pytest.mark.parametrize(
    ("burst", "kind", "net"),
    [
        ([flow("EUR", "trade", "-5", "0", "95"), flow("EUR", "deposit", "50", "1", "144")], "deposit", "49"),
        ([flow("EUR", "deposit", "50", "0", "150"), flow("EUR", "withdrawal", "-80", "0", "70")], "withdrawal", "-30"),
        ([flow("EUR", "deposit", "50", "0", "150"), flow("EUR", "adjustment", "1", "0", "151")], "adjustment", "51"),
        ([flow("EUR", "deposit", "1", "1", "100")], "sample", "0"),  # the fee took it all: nothing moved
    ],
    ids=["trade-then-deposit", "net-withdrawal", "with-an-adjustment", "zero-net-deposit"],
)
async def test_flows_in_a_burst_are_kept_as_their_net(burst: list[LedgerEntry], kind: str, net: str) -> None:
    """Conflated or not, the trend must still see every unit that came in or went out."""
    manager = BalanceManager(FrozenClock(T0))
    manager.apply(snapshot(EUR=[("spot", "main", "100")]))
    for sequence, item in enumerate(burst, start=2):
        manager.apply(BalancesUpdate((item,), sequence))
    await asyncio.sleep(0)
    latest = manager.history.get_asset_history("EUR")[-1]
    assert (latest.kind, latest.flow, latest.total) == (kind, D(net), burst[-1].balance)


def test_unknown_callback_event_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown callback event 'balance_changed'"):
        BalanceManager().register_callback("balance_changed", print)


def test_a_live_feed_that_goes_quiet_reads_stale() -> None:
    health = FeedHealth(state=FeedState.LIVE, last_message_at=T0)
    limit = timedelta(seconds=5)
    assert health.observed_state(T0 + timedelta(seconds=5), limit) is FeedState.LIVE
    assert health.observed_state(T0 + timedelta(seconds=5.1), limit) is FeedState.STALE
    assert FeedHealth(state=FeedState.RECONNECTING).observed_state(T0, limit) is FeedState.RECONNECTING


def test_an_observer_reads_the_cache_without_counting_lookups() -> None:
    clock = FrozenClock(T0)
    manager = live(BalanceManager(clock))
    manager.apply(snapshot(BTC=[("spot", "main", "1.5")]))
    clock.advance(6)  # silent past stale_after: the figures come from the cache
    assert manager.source_in_use() is Source.CACHE
    shown = manager.shown_balances()
    assert shown["BTC"].source is Source.CACHE and shown["BTC"].total == D("1.5")
    assert manager.get_status().cache.hits == 0  # the console's repaint is not the cache's use
    assert manager.get_all_balances() == shown
    assert manager.get_status().cache.hits == 1  # a bot's read is
    assert manager.get_balance("BTC") == shown["BTC"]
    assert manager.get_status().cache.hits == 2
